// Run preparation: validates a run request and works out everything the run will be (workspace,
// frozen config, spec and plan texts, ledger, base branch, name, merge target, artifact dirs),
// without creating anything. Shared by createRun and previewPrompt so both see exactly the same
// run. Reads files and asks git, so it runs before (never inside) the transaction that inserts.
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { buildAgentCommand, type AgentKind } from '../../core/agents/adapters.js';
import { agentBinary, agentKind, fixFor } from '../../core/agents/kinds/index.js';
import { parsePriceOverrides, PriceTableError } from '../../core/agents/prices.js';
import { resolveRunDirs, type RunDirs } from '../../core/artifacts.js';
import { ConfigError, resolveConfig, type LoopConfig } from '../../core/config.js';
import { detectBaseBranch, findRepoRoot, GitError, listBranches, listWorktrees } from '../../core/git.js';
import { isTextPlan, ledgerCounts, ledgerFromPlan, type LedgerTask } from '../../core/ledger.js';
import { defaultPlanPath, specSlug } from '../../core/naming.js';
import { assertBranchName } from '../../core/ref-name.js';
import { suggestRunName } from '../../core/run-name.js';
import { chooseProvider, findOnPath } from '../../core/worktree.js';
import { UserError } from '../service.js';
import type { CreateRunInput } from '../views.js';

export type NameSource = 'explicit' | 'spec_slug' | 'haiku';

export interface PreparedRun {
  id: string;
  root: string;
  config: LoopConfig;
  warnings: string[];
  specRel: string;
  planRel: string | null;
  base: string;
  /** The workspace's branches when prepared: a run branch must not take one of them. */
  branches: Set<string>;
  slug: string;
  /** The wished-for name; placement (place-run.ts) makes a derived one unique. */
  name: string;
  nameSource: NameSource;
  nameNote: string | null;
  mergeTarget: string | null;
  dirs: RunDirs;
  provider: { provider: 'git' | 'worktrunk'; reason: string };
  specText: string;
  planText: string | null;
  ledger: LedgerTask[];
}

/** C0 and C1 controls, DEL and the Unicode line separators: nothing a name needs. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
export const toUserError = (msg: string): Error => new UserError(msg);
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}

/**
 * The real path of a file the run will use, which must be a regular file inside the repository:
 * a committed symlink pointing elsewhere would let the agent write through it.
 */
function realInside(root: string, abs: string, shown: string, what: string): string {
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new UserError(`${what} file not found: ${shown}`);
  const real = realpathSync(abs);
  const realRoot = realpathSync(root);
  if (!isInside(realRoot, real)) {
    const via = real !== abs ? ` (it resolves to ${real})` : '';
    throw new UserError(`${what} ${shown} is outside the repository ${realRoot}${via}: spec, plan and context files must live inside it`);
  }
  return real;
}

/** A plan with nothing left to do would "complete" at once: refuse it, saying why. */
function refuseNothingToDo(planRel: string, text: string, ledger: readonly LedgerTask[]): void {
  if (!isTextPlan(text)) throw new UserError(`nothing to do: plan ${planRel} is not a text file, so it has no task to work on`);
  if (ledger.length === 0) {
    throw new UserError(`nothing to do: plan ${planRel} has no task checkbox ("- [ ] ...") outside verification/QA sections; add the open tasks`);
  }
  const c = ledgerCounts(ledger);
  if (c.open === 0) throw new UserError(`nothing to do: every task in plan ${planRel} is already done (${c.total} of ${c.total}); add an open "- [ ]" task`);
}

/** The git root of the request's directory: the workspace. */
async function requestRoot(cwd: string): Promise<string> {
  if (!isAbsolute(cwd)) throw new UserError(`cwd must be an absolute path, got "${cwd}"`);
  if (!existsSync(cwd)) throw new UserError(`directory not found: ${cwd}`);
  try {
    return await findRepoRoot(cwd);
  } catch (e) {
    throw new UserError(message(e));
  }
}

/** The run's config: .loop/config < the client's LOOP_CONFIG < --config FILE < flags. */
function requestConfig(input: CreateRunInput, root: string): { config: LoopConfig; warnings: string[] } {
  try {
    const env: NodeJS.ProcessEnv = {};
    if (input.loopConfig) env.LOOP_CONFIG = resolve(input.cwd, input.loopConfig);
    return resolveConfig({
      workspaceRoot: root,
      env,
      ...(input.configFile ? { configFile: resolve(input.cwd, input.configFile) } : {}),
      flags: { ...(input.flags ?? {}) },
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new UserError(e.message);
    throw e;
  }
}

/** Everything the config names that would only fail after paid work: refused now, with the fix. */
function checkAgents(config: LoopConfig): void {
  if (config.agent === 'command' && config.agent_cmd.trim() === '') {
    throw new UserError('agent=command needs agent_cmd: set agent_cmd in .loop/config or pass --agent-cmd "your command"');
  }
  const reviewerKind = config.reviewer_agent || config.agent;
  if (config.reviewer && reviewerKind === 'command' && (config.reviewer_cmd || config.agent_cmd).trim() === '') {
    throw new UserError('reviewer_agent=command needs reviewer_cmd (or agent_cmd): set it, or turn the reviewer off with reviewer=false');
  }
  // A missing agent CLI would otherwise surface only as exit 127 after every retry.
  const roles: [role: 'agent' | 'reviewer_agent', kind: AgentKind][] = [['agent', config.agent]];
  if (config.reviewer) roles.push(['reviewer_agent', reviewerKind]);
  for (const [role, kind] of roles) {
    const bin = agentBinary(kind);
    if (bin !== null && !findOnPath(bin)) {
      throw new UserError(
        `${role}=${kind} but the "${bin}" CLI is not on the daemon's PATH: install it, or use ${role === 'agent' ? 'agent=command with agent_cmd' : 'reviewer_agent=command with reviewer_cmd'} (restart the daemon after changing PATH)`,
      );
    }
  }
  // Claude Code refuses --dangerously-skip-permissions as root unless IS_SANDBOX=1: say so now,
  // not after the first iteration failed.
  const refusing = roles.find(([, kind]) => agentKind(kind).refusesRootWithoutSandbox);
  if (refusing && process.getuid?.() === 0 && !process.env.IS_SANDBOX) {
    throw new UserError(`loopd runs as root and ${agentKind(refusing[1]).title} refuses to skip permission prompts as root: ${fixFor('root_refused', refusing[1])}`);
  }
  try {
    parsePriceOverrides(config.model_prices ?? '');
  } catch (e) {
    if (e instanceof PriceTableError) throw new UserError(e.message);
    throw e;
  }
}

interface RunFiles {
  specAbs: string;
  specRel: string;
  planRel: string | null;
  specText: string;
  planText: string | null;
  ledger: LedgerTask[];
}

/** The spec, the plan (given, or the default next to the spec) and the context files, read once. */
function runFiles(input: CreateRunInput, root: string, config: LoopConfig, warnings: string[]): RunFiles {
  const realRoot = realpathSync(root);
  const specAbs = realInside(root, resolve(input.cwd, input.spec), input.spec, 'spec');
  let planRel: string | null;
  if (input.plan) {
    planRel = relative(realRoot, realInside(root, resolve(input.cwd, input.plan), input.plan, 'plan'));
  } else {
    const guess = defaultPlanPath(relative(realRoot, specAbs), config.plans_dir);
    planRel = existsSync(resolve(root, guess)) ? relative(realRoot, realInside(root, resolve(root, guess), guess, 'plan')) : null;
    if (planRel === null) warnings.push(`no plan at ${guess}: the run is plan-less and completes on the agent's token alone`);
  }
  const specRel = relative(realRoot, specAbs);
  for (const f of config.context_files) realInside(root, isAbsolute(f) ? f : resolve(root, f), f, 'context file');
  const specText = readFileSync(specAbs, 'utf8');
  const planText = planRel === null ? null : readFileSync(resolve(root, planRel), 'utf8');
  const ledger = planText === null ? [] : ledgerFromPlan(planText);
  if (planRel !== null && planText !== null) refuseNothingToDo(planRel, planText, ledger);
  return { specAbs, specRel, planRel, specText, planText, ledger };
}

/** The run's name as asked for: explicit, a haiku from the agent, or the spec's slug. */
async function chooseName(
  input: CreateRunInput,
  config: LoopConfig,
  slug: string,
  specText: string,
  suggest: boolean,
): Promise<{ name: string; nameSource: NameSource; nameNote: string | null }> {
  if (input.name !== undefined) {
    const name = input.name.trim();
    if (name === '') throw new UserError('--name must not be empty');
    // Names are printed in tables and logs: a newline or an escape sequence would forge output.
    if (CONTROL_CHARS.test(name)) {
      throw new UserError(`run name ${JSON.stringify(name)} contains control characters (newlines, tabs, escape sequences): use plain text`);
    }
    return { name, nameSource: 'explicit', nameNote: null };
  }
  if (config.run_naming_mode === 'explicit') throw new UserError('run_naming_mode=explicit needs a name: pass --name NAME');
  if (config.run_naming_mode !== 'haiku' || !suggest) return { name: slug, nameSource: 'spec_slug', nameNote: null };
  // The naming agent gets a scratch directory: it must not be able to touch the user's checkout.
  const scratch = mkdtempSync(join(tmpdir(), 'loopd-name-'));
  const suggestion = await suggestRunName({
    agentCommand: buildAgentCommand({ kind: config.agent, agentCmd: config.agent_cmd, model: config.run_naming_model || config.model }),
    kind: config.agent,
    cwd: scratch,
    specText,
  }).finally(() => rmSync(scratch, { recursive: true, force: true }));
  if (suggestion.name) return { name: suggestion.name, nameSource: 'haiku', nameNote: null };
  return { name: slug, nameSource: 'spec_slug', nameNote: `haiku naming failed (${suggestion.reason}); using the spec slug` };
}

/** The branch a successful run merges into, checked before the paid work; null for merge_strategy=none. */
async function mergeTargetOf(root: string, config: LoopConfig, slug: string): Promise<string | null> {
  if (config.merge_strategy === 'none') return null;
  const target = config.merge_target_branch || `agent/${slug}`;
  assertBranchName('merge_target_branch', target, toUserError);
  // Merging never touches a checkout, so a target checked out somewhere could never be updated:
  // say so now, not after hours of agent work.
  const holder = (await listWorktrees(root).catch(() => [])).find((w) => w.branch === target);
  if (holder) {
    throw new UserError(
      `merge target "${target}" is checked out at ${holder.path}; loopd never changes a checkout: pick another --merge-target, or check out a different branch there`,
    );
  }
  return target;
}

/** The base branch and the workspace's branches, asked of git once. */
async function branchesOf(root: string, config: LoopConfig): Promise<{ base: string; branches: Set<string> }> {
  // Every branch the run will create or move, checked now rather than after the paid work.
  if (config.base_branch !== '') assertBranchName('base_branch', config.base_branch, toUserError);
  assertBranchName('run_branch_prefix', config.run_branch_prefix, toUserError, { prefix: true });
  try {
    return { base: await detectBaseBranch(root, config.base_branch), branches: new Set(await listBranches(root)) };
  } catch (e) {
    if (e instanceof GitError) throw new UserError(e.message);
    throw e;
  }
}

/** Validates a run request and works out everything the run will be, without creating anything. */
export async function prepareRun(input: CreateRunInput, opts: { suggestName: boolean; home: string }): Promise<PreparedRun> {
  const root = await requestRoot(input.cwd);
  // The spec is checked before the config is read: a wrong path is the likelier mistake.
  realInside(root, resolve(input.cwd, input.spec), input.spec, 'spec');
  const { config, warnings } = requestConfig(input, root);
  checkAgents(config);
  let provider: PreparedRun['provider'];
  try {
    provider = chooseProvider(config.worktree_provider);
  } catch (e) {
    throw new UserError(message(e));
  }
  const files = runFiles(input, root, config, warnings);
  const { base, branches } = await branchesOf(root, config);
  const slug = specSlug(files.specRel);
  const named = await chooseName(input, config, slug, files.specText, opts.suggestName);
  const mergeTarget = await mergeTargetOf(root, config, slug);
  const id = uuidv7();
  const dirs = resolveRunDirs({ mode: config.artifact_mode, workspaceRoot: root, logDir: config.log_dir, globalLogDir: config.global_log_dir, home: opts.home, runId: id });
  const { specRel, planRel, specText, planText, ledger } = files;
  return { id, root, config, warnings, specRel, planRel, base, branches, slug, ...named, mergeTarget, dirs, provider, specText, planText, ledger };
}
