// The commented config file `loopctl init` writes: every key with its default and its doc.
import { CONFIG_KEYS, type ConfigKeySpec } from './keys.js';

function renderValue(value: string | number | boolean | readonly string[], spec: ConfigKeySpec): string {
  const text = Array.isArray(value)
    ? value.join(spec.type === 'list' ? (spec.separators[0] ?? '|') : '|')
    : String(value);
  return text === '' || /\s|#|["']/.test(text) ? `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : text;
}

/** A `.loop/config` listing every key, commented out at its default, for `loopctl init`. */
export function renderDefaultConfigFile(): string {
  const out: string[] = [
    '# loopd configuration for this workspace.',
    '# Format: key=value, one per line; quotes optional; # starts a comment.',
    '# Precedence: CLI flags > --config FILE > LOOP_CONFIG > this file > defaults.',
    '# Every key is listed at its default; uncomment a line to change it.',
    '',
  ];
  for (const spec of CONFIG_KEYS) {
    const allowed = spec.type === 'enum' ? ` (${spec.values.join('|')}${spec.allowEmpty ? '|empty' : ''})` : '';
    out.push(`# ${spec.doc}${allowed}`);
    out.push(`# ${spec.name}=${renderValue(spec.default, spec)}`);
    out.push('');
  }
  return out.join('\n');
}
