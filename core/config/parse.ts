// The `.loop/config` file format (the bash `loop` tool's): KEY=value lines, quotes, comments, and
// the messages for unknown and legacy keys.
import { CONFIG_KEYS, isConfigKey, LEGACY_KEYS, SPEC_BY_NAME } from './keys.js';
import { checkRaw, ConfigError, expectation } from './values.js';

export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      const row = d[i];
      if (row) row[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** The nearest real key when the typo is close enough to be a plausible slip. */
export function suggestKey(key: string): string | null {
  const norm = key.trim().toLowerCase().replace(/-/g, '_');
  if (isConfigKey(norm)) return norm;
  let best: string | null = null;
  let bestDist = Infinity;
  for (const spec of CONFIG_KEYS) {
    const dist = editDistance(norm, spec.name);
    if (dist < bestDist) {
      best = spec.name;
      bestDist = dist;
    }
  }
  const allowed = norm.length <= 4 ? 1 : norm.length <= 10 ? 2 : 3;
  return bestDist <= allowed ? best : null;
}

export function unknownKeyMessage(key: string): string {
  const near = suggestKey(key);
  return near
    ? `unknown key ${JSON.stringify(key)} (did you mean ${JSON.stringify(near)}?)`
    : `unknown key ${JSON.stringify(key)} (run \`loopctl init\` to write a commented .loop/config listing every key)`;
}

export function legacyWarning(where: string, key: string): string {
  return `${where}: ignoring ${JSON.stringify(key)}: a setting of the bash loop tool that loopd does not use`;
}

/** Extracts the value part of a `key=value` line: quotes stripped, trailing comment dropped. */
function parseValue(rest: string, where: string, key: string, at: { file: string; line: number; key: string }): string {
  const text = rest.trimStart();
  const quote = text[0];
  if (quote === '"' || quote === "'") {
    let value = '';
    let i = 1;
    let closed = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === quote) {
        closed = true;
        i++;
        break;
      }
      // Shell-like: inside double quotes only \" and \\ are escapes, so regexes keep their backslashes.
      if (quote === '"' && c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
        value += text[i + 1];
        i++;
        continue;
      }
      value += c;
    }
    if (!closed) {
      throw new ConfigError(`${where}: unterminated ${quote} quote in the value of ${key}`, at);
    }
    const after = text.slice(i);
    if (after.trim() !== '' && !/^\s+#/.test(after)) {
      throw new ConfigError(
        `${where}: unexpected text ${JSON.stringify(after.trim())} after the quoted value of ${key}; put a space before a # comment`,
        at,
      );
    }
    return value;
  }
  // A # starts a comment only after whitespace, so values like `a#b` survive.
  const comment = rest.search(/\s#/);
  return (comment >= 0 ? rest.slice(0, comment) : rest).trim();
}

export function parseConfigText(text: string, file: string): { values: Partial<Record<string, string>>; warnings: string[] } {
  const values: Partial<Record<string, string>> = {};
  const warnings: string[] = [];
  const seenAt = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  lines.forEach((rawLine, idx) => {
    const lineNo = idx + 1;
    const where = `${file}:${lineNo}`;
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq < 0) {
      throw new ConfigError(`${where}: expected key=value, got ${JSON.stringify(line)}`, { file, line: lineNo });
    }
    const key = line.slice(0, eq).trim();
    if (key === '') {
      throw new ConfigError(`${where}: missing key before "=" in ${JSON.stringify(line)}`, { file, line: lineNo });
    }
    if (LEGACY_KEYS.includes(key)) {
      warnings.push(legacyWarning(where, key));
      return;
    }
    const spec = SPEC_BY_NAME.get(key);
    if (!spec) throw new ConfigError(`${where}: ${unknownKeyMessage(key)}`, { file, line: lineNo, key });
    const raw = parseValue(line.slice(eq + 1), where, key, { file, line: lineNo, key });
    const ok = checkRaw(spec, raw);
    if (ok === null) {
      throw new ConfigError(`${where}: invalid value ${JSON.stringify(raw)} for ${key}: expected ${expectation(spec)}`, {
        file,
        line: lineNo,
        key,
      });
    }
    const previous = seenAt.get(key);
    if (previous !== undefined) warnings.push(`${where}: ${key} is also set on line ${previous}; the later value wins`);
    seenAt.set(key, lineNo);
    values[key] = ok;
  });
  return { values, warnings };
}
