// Run placement and insertion: the name, run branch and worktree path a prepared run takes, and the
// one transaction that records the run with its events. Placement reads what other runs took, so
// createRun places inside the inserting transaction: two requests can never pick the same name.
import { basename, resolve } from 'node:path';
import { ledgerCounts } from '../../core/ledger.js';
import { dedupeName, renderTemplate, slugify } from '../../core/naming.js';
import { UserError } from '../service.js';
import type { RunRecord, StoreReads, StoreTx } from '../store/types.js';
import type { PreparedRun } from './prepare-run.js';

export interface Placement {
  name: string;
  runBranch: string;
  worktreePath: string;
}

/** The first of `name`, `name-2`, `name-3`... that `taken` says is free. */
async function firstFree(name: string, taken: (n: string) => Promise<boolean>): Promise<string> {
  const tried = new Set<string>();
  // dedupeName is synchronous: ask the store for every candidate it may look at, then let it pick.
  for (;;) {
    const picked = dedupeName(name, (n) => tried.has(n));
    if (!(await taken(picked))) return picked;
    tried.add(picked);
  }
}

/**
 * Picks the name, branch and worktree path. Names are unique per workspace, so a name always means
 * one run: a derived name (spec slug, haiku) is de-duplicated like branches (`-2`, `-3`); an
 * explicit --name that is taken is refused.
 */
export async function placeRun(store: StoreReads, p: PreparedRun): Promise<Placement> {
  let name = p.name;
  if (p.nameSource === 'explicit') {
    const holder = await store.runNameTaken(p.root, name);
    if (holder) {
      throw new UserError(
        `a run named "${name}" already exists in ${p.root} (${await store.shortRunId(holder.id)}, ${holder.status}): pick another --name`,
        'CONFLICT',
      );
    }
  } else {
    name = await firstFree(name, async (n) => (await store.runNameTaken(p.root, n)) !== undefined);
  }
  const runBranch = await firstFree(`${p.config.run_branch_prefix}${slugify(name)}`, async (b) => p.branches.has(b) || (await store.runBranchTaken(p.root, b)));
  let worktreePath: string;
  try {
    worktreePath = resolve(
      p.root,
      renderTemplate(p.config.worktree_path_template, { repo: basename(p.root), run_branch: runBranch, spec_slug: p.slug, name: slugify(name), run_id: p.id }),
    );
  } catch (e) {
    throw new UserError(`worktree_path_template: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { name, runBranch, worktreePath };
}

/** Inserts the placed run with its truth, ledger and the events that tell how it was made. */
export async function recordRun(tx: StoreTx, p: PreparedRun, at: Placement, origin: string): Promise<RunRecord> {
  const { name, runBranch, worktreePath } = at;
  await tx.ensureWorkspace(p.root);
  const run = await tx.createRun({
    id: p.id,
    name,
    name_source: p.nameSource,
    status: 'PENDING',
    workspace_root: p.root,
    spec_path: p.specRel,
    plan_path: p.planRel,
    base_branch: p.base,
    run_branch: runBranch,
    merge_target_branch: p.mergeTarget,
    merge_strategy: p.config.merge_strategy,
    worktree_path: worktreePath,
    worktree_provider: p.provider.provider,
    config: p.config as unknown as Record<string, unknown>,
    origin,
    run_dir: p.dirs.primary,
    global_run_dir: p.dirs.global,
  });
  await tx.appendEvent(p.id, null, 'RUN_CREATED', {
    name,
    nameSource: p.nameSource,
    spec: p.specRel,
    plan: p.planRel,
    runBranch,
    baseBranch: p.base,
    mergeTarget: p.mergeTarget,
    worktree: worktreePath,
    origin: run.origin,
  });
  await tx.recordRunTruth(p.id, p.specText, p.planText);
  if (p.ledger.length > 0) {
    await tx.saveLedger(p.id, p.ledger);
    await tx.appendEvent(p.id, null, 'LEDGER_CREATED', { plan: p.planRel, ...ledgerCounts(p.ledger) });
  }
  await tx.appendEvent(p.id, null, 'WORKTREE_PROVIDER', { provider: p.provider.provider, reason: p.provider.reason });
  if (p.nameNote) await tx.appendEvent(p.id, null, 'NAME_FALLBACK', { reason: p.nameNote });
  for (const w of p.warnings) await tx.appendEvent(p.id, null, 'CONFIG_WARNING', { message: w });
  return run;
}
