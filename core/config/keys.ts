// The configuration keys: the LoopConfig type, each key's type, default, bounds and documentation,
// and the keys the bash `loop` tool had that loopd ignores.
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
} from '../types.js';

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

export const SPEC_BY_NAME: ReadonlyMap<string, ConfigKeySpec> = new Map(CONFIG_KEYS.map((k) => [k.name, k]));

export function isConfigKey(key: string): key is ConfigKey {
  return SPEC_BY_NAME.has(key);
}
