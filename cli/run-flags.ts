// The config flags `run` and `prompt` share, how they map to config keys, and the request both send.
// The daemon owns validation of keys and values (it reports typos with a suggestion); this file only
// shapes what the user typed into `flags` and checks what can only be checked here (local files).
import { Flags } from '@oclif/core';
import type { ConfigKey } from '../core/config.js';
import { WORKTREE_PROVIDERS } from '../core/config.js';
import { AGENT_KINDS, COMPLETION_MODES, MERGE_STRATEGIES, NAME_SOURCES } from '../core/types.js';
import type { CreateRunInput } from '../router/index.js';
import { UserError } from './base.js';

export type ConfigFlagValue = string | number | boolean;

/** Each dedicated flag and the config key it sets. `satisfies` keeps the keys honest at compile time. */
export const FLAG_KEYS = {
  agent: 'agent',
  'agent-cmd': 'agent_cmd',
  iterations: 'iterations',
  model: 'model',
  'merge-target': 'merge_target_branch',
  'merge-strategy': 'merge_strategy',
  'base-branch': 'base_branch',
  'completion-mode': 'completion_mode',
  reviewer: 'reviewer',
  'reviewer-agent': 'reviewer_agent',
  'reviewer-cmd': 'reviewer_cmd',
  'reviewer-model': 'reviewer_model',
  'verify-cmds': 'verify_cmds',
  'max-cost-usd': 'max_cost_usd',
  'worktree-provider': 'worktree_provider',
  'worktree-cleanup': 'worktree_cleanup',
  'run-naming-mode': 'run_naming_mode',
} as const satisfies Record<string, ConfigKey>;

export type ConfigFlagName = keyof typeof FLAG_KEYS;

const helpGroup = 'CONFIG';

/** Flags of both `run` and `prompt`: every config flag plus --config, --set and --name. */
export const runConfigFlags = {
  agent: Flags.string({ helpGroup, description: 'Agent for implementation.', options: [...AGENT_KINDS] }),
  'agent-cmd': Flags.string({ helpGroup, description: 'Command line for --agent command.' }),
  iterations: Flags.integer({ helpGroup, description: 'Maximum iterations before the run fails.', min: 1 }),
  model: Flags.string({ helpGroup, description: 'Model passed to the agent.' }),
  name: Flags.string({ description: 'Run name (default from the spec name); implies --run-naming-mode explicit.' }),
  'merge-target': Flags.string({ helpGroup, description: 'Branch to merge the finished run into.' }),
  'merge-strategy': Flags.string({ helpGroup, description: 'How to merge into the target.', options: [...MERGE_STRATEGIES] }),
  'base-branch': Flags.string({ helpGroup, description: 'Branch the run starts from.' }),
  'completion-mode': Flags.string({ helpGroup, description: 'How the completion token is recognised.', options: [...COMPLETION_MODES] }),
  reviewer: Flags.boolean({ helpGroup, description: 'Review after each implementation iteration (--no-reviewer: no reviews).', allowNo: true }),
  'reviewer-agent': Flags.string({ helpGroup, description: 'Agent for reviews (default: the implementation agent).', options: [...AGENT_KINDS] }),
  'reviewer-cmd': Flags.string({ helpGroup, description: 'Command line for reviews with --reviewer-agent command.' }),
  'reviewer-model': Flags.string({ helpGroup, description: 'Model for reviews.' }),
  'verify-cmds': Flags.string({ helpGroup, description: 'Verification commands run after each iteration, separated by "|".', helpValue: '"CMD|CMD"' }),
  'max-cost-usd': Flags.string({ helpGroup, description: 'Spending cap for the run in USD; the run pauses when it is reached (0: no cap).', helpValue: 'USD' }),
  'worktree-provider': Flags.string({ helpGroup, description: 'How the worktree is made (auto: worktrunk when on PATH, else git).', options: [...WORKTREE_PROVIDERS] }),
  'worktree-cleanup': Flags.boolean({ helpGroup, description: 'Remove the worktree when the run ends (--no-worktree-cleanup: keep it).', allowNo: true }),
  'run-naming-mode': Flags.string({ helpGroup, description: 'How the run is named.', options: [...NAME_SOURCES] }),
  set: Flags.string({
    helpGroup,
    description: 'Any config key, as in .loop/config (repeatable), e.g. --set verify_timeout_sec=120; the dedicated flags are shorthands.',
    helpValue: 'KEY=VALUE',
    multiple: true,
    // One value per --set, so `--set a=1 specs/x.md` still reads specs/x.md as the spec.
    multipleNonGreedy: true,
  }),
  config: Flags.string({ description: 'A config file (key=value lines) layered over LOOP_CONFIG and .loop/config.' }),
};

export const CONFIG_PRECEDENCE =
  'Flags (and --set) override --config FILE, which overrides LOOP_CONFIG, which overrides .loop/config.';

/** One `--set KEY=VALUE`; the key may use dashes for underscores. The value stays text: the daemon types it. */
export function parseSetFlag(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq < 0) throw new UserError(`--set ${JSON.stringify(text)}: expected KEY=VALUE, e.g. --set verify_timeout_sec=120`);
  const key = text.slice(0, eq).trim().replace(/-/g, '_');
  if (key === '') throw new UserError(`--set ${JSON.stringify(text)}: the key before "=" is empty`);
  return [key, text.slice(eq + 1)];
}

function parseUsd(text: string): number {
  const t = text.trim().replace(/^\$/, '');
  const n = t === '' ? Number.NaN : Number(t);
  if (!Number.isFinite(n) || n < 0) {
    throw new UserError(`invalid value ${JSON.stringify(text)} for --max-cost-usd: expected a number of US dollars >= 0, e.g. 5 or 2.50`);
  }
  return n;
}

/**
 * The parsed flags as config keys for the request's `flags`. Absent flags are left out (booleans
 * too: --no-reviewer sends reviewer=false, no flag sends nothing). A key set both by its dedicated
 * flag and by --set is an error; of repeated --set for one key the last wins, as in config files.
 */
export function configFromFlags(flags: Record<string, unknown>): Record<string, ConfigFlagValue> {
  const out: Record<string, ConfigFlagValue> = {};
  const byFlag = new Map<string, string>();
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const value = flags[flag];
    if (value === undefined || value === null) continue;
    if (flag === 'max-cost-usd' && typeof value === 'string') out[key] = parseUsd(value);
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
    else throw new UserError(`--${flag}: unexpected value ${JSON.stringify(value)}`);
    byFlag.set(key, flag);
  }

  const sets = flags.set;
  const list = sets === undefined || sets === null ? [] : Array.isArray(sets) ? sets : [sets];
  for (const item of list) {
    const [key, value] = parseSetFlag(String(item));
    const flag = byFlag.get(key);
    if (flag !== undefined) throw new UserError(`--set ${key}=... and --${flag} both set ${key}: use one`);
    out[key] = value;
  }

  // --name means explicit naming unless a naming mode was asked for.
  if (typeof flags.name === 'string' && out.run_naming_mode === undefined) out.run_naming_mode = 'explicit';
  if (out.run_naming_mode === 'explicit' && typeof flags.name !== 'string') {
    throw new UserError('run_naming_mode explicit needs a name: pass --name NAME');
  }
  return out;
}

/** What `run` and `prompt` send: local paths checked and made absolute, flags mapped. */
export async function buildCreateInput(
  args: { spec: string; plan?: string | undefined },
  flags: Record<string, unknown>,
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CreateRunInput & { origin: 'cli' }> {
  const { existsSync, statSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const mustExist = (what: string, given: string): string => {
    const abs = resolve(cwd, given);
    if (!existsSync(abs)) throw new UserError(`${what} not found: ${given}`);
    if (!statSync(abs).isFile()) throw new UserError(`${what} is not a file: ${given}`);
    return abs;
  };
  const spec = mustExist('spec file', args.spec);
  const plan = args.plan === undefined ? undefined : mustExist('plan file', args.plan);
  const configFile = typeof flags.config === 'string' ? mustExist('config file', flags.config) : undefined;
  const name = typeof flags.name === 'string' ? flags.name : undefined;
  return {
    cwd,
    spec,
    plan,
    configFile,
    loopConfig: env.LOOP_CONFIG,
    flags: configFromFlags(flags),
    name,
    origin: 'cli',
  };
}
