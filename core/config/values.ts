// One raw config value: what a key accepts, the check with its one-line error, the conversion.
import { SPEC_BY_NAME, type ConfigKeySpec } from './keys.js';

export class ConfigError extends Error {
  file?: string;
  line?: number;
  key?: string;
  constructor(message: string, where: { file?: string; line?: number; key?: string } = {}) {
    super(message);
    this.name = 'ConfigError';
    if (where.file !== undefined) this.file = where.file;
    if (where.line !== undefined) this.line = where.line;
    if (where.key !== undefined) this.key = where.key;
  }
}

const TRUE_WORDS = new Set(['true', 'yes', '1', 'on']);
const FALSE_WORDS = new Set(['false', 'no', '0', 'off']);

/** true/false, yes/no, 1/0, on/off in any case; null for anything else. */
export function parseBool(text: string): boolean | null {
  const t = text.trim().toLowerCase();
  if (TRUE_WORDS.has(t)) return true;
  if (FALSE_WORDS.has(t)) return false;
  return null;
}

/** Splits on any of the separators, trims, drops empty items. */
export function splitList(text: string, separators: readonly string[]): string[] {
  let parts = [text];
  for (const sep of separators) parts = parts.flatMap((p) => p.split(sep));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

export function expectation(spec: ConfigKeySpec): string {
  switch (spec.type) {
    case 'int':
      return `an integer >= ${spec.min}`;
    case 'number':
      return `a number >= ${spec.min}`;
    case 'bool':
      return 'a boolean (true/false, yes/no, 1/0, on/off)';
    case 'enum':
      return `one of ${spec.values.join(', ')}${spec.allowEmpty ? ' (or empty)' : ''}`;
    case 'list':
      return `a list separated by ${spec.separators.map((s) => `"${s}"`).join(' or ')}`;
    case 'string':
      return 'a string';
  }
}

/** Returns the canonical raw text of a valid value, or null when invalid. */
export function checkRaw(spec: ConfigKeySpec, raw: string): string | null {
  switch (spec.type) {
    case 'string':
    case 'list':
      return raw;
    case 'int': {
      const t = raw.trim();
      if (!/^[+-]?\d+$/.test(t)) return null;
      const n = Number(t);
      return Number.isSafeInteger(n) && n >= spec.min ? String(n) : null;
    }
    case 'number': {
      const t = raw.trim();
      // Number('') is 0 and Number('0x10') is 16: accept plain decimals only.
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return null;
      const n = Number(t);
      return Number.isFinite(n) && n >= spec.min ? String(n) : null;
    }
    case 'bool': {
      const b = parseBool(raw);
      return b === null ? null : String(b);
    }
    case 'enum': {
      const t = raw.trim().toLowerCase();
      if (t === '' && spec.allowEmpty) return '';
      return spec.values.includes(t) ? t : null;
    }
  }
}

export function convert(spec: ConfigKeySpec, raw: string): string | number | boolean | string[] {
  switch (spec.type) {
    case 'string':
    case 'enum':
      return raw;
    case 'int':
    case 'number':
      return Number(raw);
    case 'bool':
      return raw === 'true';
    case 'list':
      return splitList(raw, spec.separators);
  }
}

/** Optimal string alignment distance: a transposed pair of letters counts as one edit. */
