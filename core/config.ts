// Loop configuration: `.loop/config` files (the bash `loop` tool's format), layered with
// LOOP_CONFIG, --config FILE and CLI flags into one typed, validated LoopConfig.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import {
  AGENT_KINDS,
  COMPLETION_MODES,
  MERGE_STRATEGIES,
  NAME_SOURCES,
  QUEUE_POLICIES,
  type AgentKind,
  type CompletionMode,
  type MergeStrategy,
  type NameSource,
  type QueuePolicy,
} from './types.js';

export const ARTIFACT_MODES = ['workspace', 'global', 'mirror'] as const;
export type ArtifactMode = (typeof ARTIFACT_MODES)[number];

export const WORKTREE_PROVIDERS = ['auto', 'git', 'worktrunk'] as const;
export type WorktreeProvider = (typeof WORKTREE_PROVIDERS)[number];

export interface LoopConfig {
  specs_dir: string;
  plans_dir: string;
  log_dir: string;
  model: string;
  iterations: number;
  completion_mode: CompletionMode;
  reviewer: boolean;
  reviewer_agent: AgentKind | '';
  reviewer_cmd: string;
  reviewer_model: string;
  verify_cmds: string[];
  verify_timeout_sec: number;
  claude_timeout_sec: number;
  claude_retries: number;
  claude_retry_backoff_sec: number;
  transient_retries: number;
  artifact_mode: ArtifactMode;
  global_log_dir: string;
  run_naming_mode: NameSource;
  run_naming_model: string;
  base_branch: string;
  run_branch_prefix: string;
  merge_target_branch: string;
  merge_strategy: MergeStrategy;
  worktree_path_template: string;
  worktree_provider: WorktreeProvider;
  worktree_cleanup: boolean;
  max_runs_per_workspace: number;
  queue_policy: QueuePolicy;
  prompt_file: string;
  context_files: string[];
  max_consecutive_verification_failures: number;
  max_consecutive_review_failures: number;
  watchdog_max_rewrites: number;
  watchdog_no_progress_iterations: number;
  max_cost_usd: number;
  agent_api_retries: number;
  max_output_bytes: number;
  model_prices: string;
  agent: AgentKind;
  agent_cmd: string;
  trigger_plan_wait_sec: number;
  trigger_on_change: boolean;
}

export type ConfigKey = keyof LoopConfig;

export type ConfigKeySpec =
  | { name: ConfigKey; type: 'string'; default: string; doc: string }
  | { name: ConfigKey; type: 'int' | 'number'; default: number; min: number; doc: string }
  | { name: ConfigKey; type: 'bool'; default: boolean; doc: string }
  | { name: ConfigKey; type: 'enum'; default: string; values: readonly string[]; allowEmpty: boolean; doc: string }
  | { name: ConfigKey; type: 'list'; default: readonly string[]; separators: readonly string[]; doc: string };

const str = (name: ConfigKey, def: string, doc: string): ConfigKeySpec => ({ name, type: 'string', default: def, doc });
const int = (name: ConfigKey, def: number, min: number, doc: string): ConfigKeySpec => ({ name, type: 'int', default: def, min, doc });
const num = (name: ConfigKey, def: number, min: number, doc: string): ConfigKeySpec => ({ name, type: 'number', default: def, min, doc });
const bool = (name: ConfigKey, def: boolean, doc: string): ConfigKeySpec => ({ name, type: 'bool', default: def, doc });
const oneOf = (name: ConfigKey, def: string, values: readonly string[], doc: string, allowEmpty = false): ConfigKeySpec => ({
  name,
  type: 'enum',
  default: def,
  values,
  allowEmpty,
  doc,
});
const list = (name: ConfigKey, separators: readonly string[], doc: string): ConfigKeySpec => ({
  name,
  type: 'list',
  default: [],
  separators,
  doc,
});

/** Every key loopd understands, in the order `loopctl init` writes them. */
export const CONFIG_KEYS: readonly ConfigKeySpec[] = [
  str('specs_dir', 'specs', 'Directory (relative to the workspace root) holding spec markdown files.'),
  str('plans_dir', 'specs/planning', 'Directory holding plans; a spec NAME.md gets the plan NAME-plan.md.'),
  str('log_dir', 'logs/loop', 'Workspace directory for run artifacts (run-<id>/ per run).'),
  str('model', '', 'Model passed to the agent; empty uses the agent default.'),
  int('iterations', 50, 1, 'Maximum implementation iterations before the run fails (iterations_exhausted).'),
  oneOf('completion_mode', 'trailing', COMPLETION_MODES, 'exact: the whole output is the token; trailing: its last non-empty line is.'),
  bool('reviewer', true, 'Review the work of iterations that changed code, once their verification passed; completion then needs every task [R].'),
  oneOf('reviewer_agent', '', AGENT_KINDS, 'Agent for reviews; empty uses the same agent as implementation.', true),
  str('reviewer_cmd', '', 'Command for reviews when reviewer_agent=command.'),
  str('reviewer_model', '', 'Model for reviews; empty uses the agent default.'),
  list('verify_cmds', ['|'], 'Verification commands run after each implementation (before review), separated by "|".'),
  int('verify_timeout_sec', 600, 1, 'Timeout for each verification command, in seconds.'),
  int('claude_timeout_sec', 1800, 1, 'Timeout for one agent invocation, in seconds; the whole process tree is killed.'),
  int('claude_retries', 2, 0, 'Retries of a failed agent invocation.'),
  num('claude_retry_backoff_sec', 5, 0, 'Seconds to wait before retrying a failed agent invocation.'),
  int('transient_retries', 5, 0, 'Retries of transient API errors (5xx, overloaded, rate limited), with exponential backoff capped at 2 minutes.'),
  oneOf('artifact_mode', 'mirror', ARTIFACT_MODES, 'Where run artifacts go: workspace (log_dir), global (global_log_dir) or mirror (both).'),
  str('global_log_dir', '', 'Global artifact directory; empty uses <data dir>/runs.'),
  oneOf('run_naming_mode', 'spec_slug', NAME_SOURCES, 'How runs are named: spec_slug, haiku (asks a model) or explicit (--name).'),
  str('run_naming_model', '', 'Model used when run_naming_mode=haiku; empty uses the agent default.'),
  str('base_branch', '', 'Branch runs start from; empty detects the default branch.'),
  str('run_branch_prefix', 'run/', 'Prefix of each run branch (run/<name>).'),
  str('merge_target_branch', '', 'Branch a finished run is merged into; empty uses agent/<spec_slug>.'),
  oneOf('merge_strategy', 'squash', MERGE_STRATEGIES, 'How a finished run reaches merge_target_branch: none, merge or squash.'),
  str('worktree_path_template', '../{{ repo }}.{{ run_branch | sanitize }}', 'Worktree path, relative to the workspace root; filters: sanitize, slug.'),
  oneOf('worktree_provider', 'auto', WORKTREE_PROVIDERS, 'auto uses worktrunk (wt) when it is on PATH, else git.'),
  bool('worktree_cleanup', false, 'Remove the worktree after the run ends.'),
  int('max_runs_per_workspace', 0, 0, 'Concurrent runs per workspace; 0 means no limit.'),
  oneOf('queue_policy', 'fifo', QUEUE_POLICIES, 'Order of pending runs: fifo or newest_first.'),
  str('prompt_file', '', 'Prompt template replacing the default (SPEC_PATH and PLAN_PATH are substituted); empty uses .loop/prompt.txt if present.'),
  list('context_files', ['|', ','], 'Files appended to every prompt, separated by "|" or ",".'),
  int('max_consecutive_verification_failures', 3, 0, 'Consecutive verification failures that fail the run; 0 means no limit.'),
  int('max_consecutive_review_failures', 0, 0, 'Consecutive rejected reviews that fail the run; 0 means no limit.'),
  int('watchdog_max_rewrites', 2, 0, 'Watchdog prompt rewrites allowed per run before it fails.'),
  int('watchdog_no_progress_iterations', 2, 1, 'Iterations without a commit or plan change before the watchdog steps in.'),
  num('max_cost_usd', 0, 0, 'Spending cap per run in USD; 0 means off.'),
  int('agent_api_retries', 2, 0, "Retries the agent CLI itself makes for a failing API call (Claude Code's CLAUDE_CODE_MAX_RETRIES); kept small so loopd's own backoff (transient_retries) governs."),
  int('max_output_bytes', 64 * 1024 * 1024, 0, 'Output kept per agent invocation; past it the log keeps its head and its last part, and an OUTPUT_TRUNCATED event says so; 0 keeps everything.'),
  str('model_prices', '', 'Price overrides for cost from tokens: MODEL=INPUT/CACHED_INPUT/OUTPUT in USD per million tokens, comma-separated.'),
  oneOf('agent', 'claude', AGENT_KINDS, 'Implementation agent: claude, codex or command (agent_cmd).'),
  str('agent_cmd', '', 'Command run as the agent when agent=command.'),
  num('trigger_plan_wait_sec', 30, 0, 'When watching, seconds to wait for a plan after a new spec appears.'),
  bool('trigger_on_change', false, 'When watching, start a run when an existing spec changes (not only new specs).'),
];

/** Settings of the bash `loop` tool that loopd has no use for; accepted so old configs keep working. */
export const LEGACY_KEYS: readonly string[] = [
  'no_gum',
  'no_wait',
  'mode',
  'gum',
  'tmux',
  'notify',
  'interactive',
  'color',
  'quiet',
  'verbose',
  'dry_run',
  'open_editor',
];

const SPEC_BY_NAME: ReadonlyMap<string, ConfigKeySpec> = new Map(CONFIG_KEYS.map((k) => [k.name, k]));

export function isConfigKey(key: string): key is ConfigKey {
  return SPEC_BY_NAME.has(key);
}

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

function expectation(spec: ConfigKeySpec): string {
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
function checkRaw(spec: ConfigKeySpec, raw: string): string | null {
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

function convert(spec: ConfigKeySpec, raw: string): string | number | boolean | string[] {
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

function unknownKeyMessage(key: string): string {
  const near = suggestKey(key);
  return near
    ? `unknown key ${JSON.stringify(key)} (did you mean ${JSON.stringify(near)}?)`
    : `unknown key ${JSON.stringify(key)} (run \`loopctl init\` to write a commented .loop/config listing every key)`;
}

function legacyWarning(where: string, key: string): string {
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

export type FlagValue = string | number | boolean | string[] | undefined;

export interface ConfigSources {
  workspaceRoot: string;
  /** Reads LOOP_CONFIG; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** --config FILE, absolute or relative to workspaceRoot. */
  configFile?: string;
  /** CLI flags keyed by config key; undefined entries are not set. */
  flags?: Record<string, FlagValue>;
}

export type ConfigSource = 'default' | 'workspace' | 'LOOP_CONFIG' | 'config_file' | 'flag';

/** The CLI spelling of a key, used in error messages about flags. */
export function flagName(key: string): string {
  return `--${key.replace(/_/g, '-')}`;
}

/** Normalises one flag to the raw text a config file would hold, or null for a wrong type. */
function flagToRaw(spec: ConfigKeySpec, value: Exclude<FlagValue, undefined>): string | null {
  if (Array.isArray(value)) return null;
  if (typeof value === 'boolean') return spec.type === 'bool' ? String(value) : null;
  if (typeof value === 'number') return spec.type === 'int' || spec.type === 'number' ? String(value) : null;
  return value;
}

function defaultsRecord(): Record<ConfigKey, string | number | boolean | string[]> {
  const out = {} as Record<ConfigKey, string | number | boolean | string[]>;
  for (const spec of CONFIG_KEYS) out[spec.name] = spec.type === 'list' ? [...spec.default] : spec.default;
  return out;
}

/** The configuration with nothing set. */
export function defaultConfig(): LoopConfig {
  return defaultsRecord() as unknown as LoopConfig;
}

function readNamedFile(path: string, what: string): string {
  if (!existsSync(path)) throw new ConfigError(`${what} ${path} does not exist`, { file: path });
  if (!statSync(path).isFile()) throw new ConfigError(`${what} ${path} is not a file`, { file: path });
  return readFileSync(path, 'utf8');
}

export function resolveConfig(src: ConfigSources): {
  config: LoopConfig;
  warnings: string[];
  sources: Record<string, ConfigSource>;
} {
  const root = resolve(src.workspaceRoot);
  const env = src.env ?? process.env;
  const out = defaultsRecord();
  const sources: Record<string, ConfigSource> = {};
  for (const spec of CONFIG_KEYS) sources[spec.name] = 'default';
  const warnings: string[] = [];

  const applyFile = (text: string, file: string, source: ConfigSource): void => {
    const parsed = parseConfigText(text, file);
    warnings.push(...parsed.warnings);
    for (const [key, raw] of Object.entries(parsed.values)) {
      const spec = SPEC_BY_NAME.get(key);
      if (!spec || raw === undefined) continue;
      out[spec.name] = convert(spec, raw);
      sources[key] = source;
    }
  };

  const workspaceFile = join(root, '.loop', 'config');
  if (existsSync(workspaceFile)) {
    if (!statSync(workspaceFile).isFile()) {
      throw new ConfigError(`${workspaceFile} is not a file`, { file: workspaceFile });
    }
    applyFile(readFileSync(workspaceFile, 'utf8'), workspaceFile, 'workspace');
  }

  const loopConfig = env.LOOP_CONFIG?.trim();
  if (loopConfig) {
    // Relative to the workspace, not the daemon's cwd, which has nothing to do with the user's shell.
    const path = isAbsolute(loopConfig) ? loopConfig : resolve(root, loopConfig);
    applyFile(readNamedFile(path, 'LOOP_CONFIG file'), path, 'LOOP_CONFIG');
  }

  if (src.configFile !== undefined && src.configFile.trim() !== '') {
    const path = isAbsolute(src.configFile) ? src.configFile : resolve(root, src.configFile);
    applyFile(readNamedFile(path, '--config file'), path, 'config_file');
  }

  for (const [key, value] of Object.entries(src.flags ?? {})) {
    if (value === undefined) continue;
    const flag = flagName(key);
    if (LEGACY_KEYS.includes(key)) {
      warnings.push(legacyWarning(flag, key));
      continue;
    }
    const spec = SPEC_BY_NAME.get(key);
    if (!spec) throw new ConfigError(`${flag}: ${unknownKeyMessage(key)}`, { key });
    if (spec.type === 'list') {
      if (typeof value !== 'string' && !Array.isArray(value)) {
        throw new ConfigError(`invalid value ${JSON.stringify(String(value))} for ${flag}: expected ${expectation(spec)}`, { key });
      }
      // Array items stay whole: a verify command may itself contain a separator.
      out[spec.name] = Array.isArray(value)
        ? value.map((v) => v.trim()).filter((v) => v !== '')
        : splitList(value, spec.separators);
    } else {
      const raw = flagToRaw(spec, value);
      const ok = raw === null ? null : checkRaw(spec, raw);
      if (ok === null) {
        const shown = Array.isArray(value) ? value.join(',') : String(value);
        throw new ConfigError(`invalid value ${JSON.stringify(shown)} for ${flag}: expected ${expectation(spec)}`, { key });
      }
      out[spec.name] = convert(spec, ok);
    }
    sources[key] = 'flag';
  }

  return { config: out as unknown as LoopConfig, warnings, sources };
}

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

// ---- host settings of a loopd sharing a PostgreSQL database (docs/scaling.md) -------------------

/** Seconds a step's lease lasts without a heartbeat (`--lease-ttl-sec`, `LOOPD_LEASE_TTL_SEC`). */
export const DEFAULT_LEASE_TTL_SEC = 30;
// Below a second the heartbeat (every third of it) would compete with the work; above an hour a
// dead host's steps would wait too long for another host.
const LEASE_TTL_RANGE = { min: 1, max: 3600 } as const;

/**
 * The lease TTL of this host, in seconds (a decimal is fine: 1.5). A step whose host stopped
 * renewing is handed to another host this long after its last renewal.
 */
export function parseLeaseTtlSec(text: string, source: string): number {
  const t = text.trim();
  const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : Number.NaN;
  if (!Number.isFinite(n) || n < LEASE_TTL_RANGE.min || n > LEASE_TTL_RANGE.max) {
    throw new ConfigError(
      `invalid ${source} "${text}": expected seconds between ${LEASE_TTL_RANGE.min} and ${LEASE_TTL_RANGE.max} (default ${DEFAULT_LEASE_TTL_SEC}), e.g. ${source.startsWith('--') ? `${source} 30` : `${source}=30`}`,
    );
  }
  return n;
}
