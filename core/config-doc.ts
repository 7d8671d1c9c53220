// The configuration reference (docs/config.md), rendered from CONFIG_KEYS so the document cannot
// drift from what the daemon accepts: a unit test compares the committed file with this output.
import { CONFIG_KEYS, DEFAULT_LEASE_TTL_SEC, LEGACY_KEYS, type ConfigKeySpec } from './config.js';

function typeText(spec: ConfigKeySpec): string {
  switch (spec.type) {
    case 'string':
      return 'text';
    case 'int':
      return `integer >= ${spec.min}`;
    case 'number':
      return `number >= ${spec.min}`;
    case 'bool':
      return 'boolean';
    case 'enum':
      return `${spec.values.join(' \\| ')}${spec.allowEmpty ? ' \\| (empty)' : ''}`;
    case 'list':
      return `list, separated by ${spec.separators.map((s) => `\`${s.replace('|', '\\|')}\``).join(' or ')}`;
  }
}

function defaultText(spec: ConfigKeySpec): string {
  const value = spec.type === 'list' ? spec.default.join(spec.separators[0] ?? '|') : String(spec.default);
  return value === '' ? '(empty)' : `\`${value.replace(/\|/g, '\\|')}\``;
}

export function renderConfigReference(): string {
  const rows = CONFIG_KEYS.map(
    (spec) => `| \`${spec.name}\` | ${typeText(spec)} | ${defaultText(spec)} | ${spec.doc.replace(/\|/g, '\\|')} |`,
  );
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from core/config.ts by `npm run docs`; test/unit/config-doc.test.ts fails when it is stale. -->',
    '',
    'A run\'s configuration is resolved once, when the run is created, and frozen on the run',
    '(`loopctl inspect --json` shows it). Sources, highest precedence first:',
    '',
    '1. `loopctl run` / `prompt` flags (`--iterations 5`, `--set key=value` for any key);',
    '2. `--config FILE`;',
    '3. the file named by `LOOP_CONFIG` in the client\'s environment (relative to the workspace root);',
    '4. `<workspace>/.loop/config`;',
    '5. the defaults below.',
    '',
    'Files hold `key=value` lines; quotes are optional and `#` starts a comment. `loopctl init` writes',
    'a `.loop/config` with every key commented out at its default. Booleans accept true/false, yes/no,',
    '1/0 and on/off. An unknown key or a bad value is an error naming the file, the line, the key and',
    'the valid choices (with the nearest key for a typo).',
    '',
    '| key | type | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    '## Keys of the bash `loop` tool',
    '',
    'These are accepted with a warning and otherwise ignored, so existing configs keep working:',
    `${LEGACY_KEYS.map((k) => `\`${k}\``).join(', ')}.`,
    '',
    '## Daemon settings',
    '',
    'These belong to the daemon, not to a run, and come from its flags or environment:',
    '',
    '| setting | flag | environment | default |',
    '| --- | --- | --- | --- |',
    '| address (loopback only; port 0 = any free port) | `--addr` | `LOOPD_ADDR` | `127.0.0.1:7700` |',
    '| data dir (database, logs, token, run mirror) | `--home` | `LOOPD_HOME` | `$XDG_DATA_HOME/loopd` or `~/.local/share/loopd` |',
    '| active runs at once | `--max-concurrency` | | `3` |',
    '| API token | | `LOOPD_AUTH_TOKEN` | generated at first start, stored 0600 as `<data dir>/auth-token` |',
    '| workspace to watch at start | `--watch PATH` | | none |',
    '| shared PostgreSQL for several hosts ([scaling.md](scaling.md)) | `--database-url` | `LOOPD_DATABASE_URL` | none: the embedded SQLite |',
    `| lease of a claimed step on PostgreSQL, in seconds (1..3600; heartbeat every third) | \`--lease-ttl-sec\` | \`LOOPD_LEASE_TTL_SEC\` | \`${DEFAULT_LEASE_TTL_SEC}\` |`,
    '',
  ].join('\n');
}
