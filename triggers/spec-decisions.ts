// The trigger's decisions on one spec file: record it (first registration), skip it (draft,
// complete, already ran, bad config), wait for its plan, or start a run. Durable truth is the
// `spec_files` table, so a decision compares the spec with its row, never with in-memory state, and
// the row that says "this content made run X" commits in the same transaction as the run
// (createRun's inTx): one save, however an editor performs it, makes at most one run.
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { LoopConfig } from '../core/config.js';
import { defaultPlanPath } from '../core/naming.js';
import { workspaceConfig } from '../core/workspace-config.js';
import type { CreateRunFn } from '../host/service.js';
import type { LoopStore } from '../host/store/types.js';
import { message, readText, settled, sha256 } from './files.js';
import { isSpecCandidate, specStatus } from './spec-rules.js';

/** Another watcher (another host on the same database) already made the run for this save. */
class DecidedElsewhere extends Error {}

/** What the trigger needs of the host: the store, run creation, and a log. No concrete host class. */
export interface TriggerHost {
  store: LoopStore;
  createRun: CreateRunFn;
  log: (msg: string) => void;
}

type PlanWaitOutcome = 'arrived' | 'timeout' | 'aborted';

interface PlanWait {
  planAbs: string;
  finish: (outcome: PlanWaitOutcome) => void;
}

/** A watched workspace as the decisions see it: its folders, its open plan waits, whether it closed. */
export interface WatchedWorkspace {
  root: string;
  specsAbs: string;
  plansAbs: string;
  waits: Set<PlanWait>;
  closed: boolean;
}

/** Why a decision is being made: a file event, or a scan at start-up (the file may be new while down). */
export type Origin = 'event' | 'restart';

export class SpecDecisions {
  constructor(
    private readonly host: TriggerHost,
    private readonly stabilityMs: number,
    private readonly planWaitMsOverride: number | undefined,
  ) {}

  settled(ws: WatchedWorkspace, abs: string, allowEmpty = false): Promise<boolean> {
    return settled(abs, this.stabilityMs, () => ws.closed, allowEmpty);
  }

  private async skip(root: string, rel: string, reason: string, row?: { content_hash: string; status: string }): Promise<void> {
    await this.host.store.transaction(async (tx) => {
      if (row) await tx.upsertSpecFile({ workspace_root: root, path: rel, content_hash: row.content_hash, status: row.status });
      await tx.appendEvent(null, null, 'TRIGGER_SKIPPED', { spec: rel, reason }, root);
    });
    this.host.log(`watch: ${root}: ${rel} skipped (${reason})`);
  }

  /** First registration: remember the spec as it is now, without running it. True if recorded. */
  async recordPresent(ws: WatchedWorkspace, abs: string): Promise<boolean> {
    if (ws.closed) return false;
    const rel = relative(ws.root, abs);
    const content = readText(abs);
    if (content === null) return false;
    const hash = sha256(content);
    const row = await this.host.store.getSpecFile(ws.root, rel);
    if (row && row.content_hash === hash && row.status !== 'waiting_plan') return false;
    // A draft keeps its draft status, so finishing it later starts it like any other draft would
    // ("a Draft does not start until its status changes"); everything else is just recorded.
    const status = specStatus(content) === 'draft' ? 'draft' : 'recorded';
    await this.skip(ws.root, rel, 'present_when_watched', { content_hash: hash, status });
    return true;
  }

  async decide(ws: WatchedWorkspace, abs: string, origin: Origin): Promise<void> {
    if (!(await this.settled(ws, abs))) return;
    const root = ws.root;
    const rel = relative(root, abs);
    const content = readText(abs);
    if (content === null) return;
    const hash = sha256(content);
    const row = await this.host.store.getSpecFile(root, rel);
    // The same content was already decided on: duplicate events of one save end here. Exceptions:
    // a row left waiting for its plan (daemon stopped mid-wait) is an unfinished decision, and a
    // 'skipped' row is a spec deleted mid-wait, so the same text coming back is a new spec.
    if (row && row.content_hash === hash && row.status !== 'waiting_plan' && row.status !== 'skipped') return;

    let config: LoopConfig;
    try {
      config = workspaceConfig(root);
    } catch (e) {
      // The row is left alone, so the spec is decided again once the config is fixed and the
      // spec is touched or the daemon restarts.
      await this.skip(root, rel, `config_error: ${message(e)}`);
      return;
    }
    // The config may have moved specs_dir since the watcher was set up.
    if (!isSpecCandidate(abs, resolve(root, config.specs_dir), resolve(root, config.plans_dir))) return;

    let reason: string;
    if (row && row.status !== 'waiting_plan' && (row.last_run_id !== null || row.status === 'recorded')) {
      const why = row.last_run_id !== null ? 'already_ran' : 'present_when_watched';
      if (!config.trigger_on_change) {
        await this.skip(root, rel, why, { content_hash: hash, status: row.status });
        return;
      }
      reason = 'changed';
    } else if (!row) {
      reason = origin === 'restart' ? 'added_while_down' : 'new';
    } else if (row.status === 'waiting_plan') {
      reason = 'resumed';
    } else if (row.status === 'draft' || row.status === 'complete') {
      reason = 'status_changed';
    } else {
      reason = 'retry'; // an earlier attempt failed (status 'error'), and the spec was edited since
    }

    const declared = specStatus(content);
    if (declared !== 'other') {
      // draft → 'draft', complete → 'complete' (both a status and a reason).
      await this.skip(root, rel, declared, { content_hash: hash, status: declared });
      return;
    }
    await this.fire(ws, abs, rel, hash, reason, config);
  }

  /**
   * Waits for a missing plan (trigger_plan_wait_sec), recording the wait. The spec's hash as it is
   * after the wait, or null when the decision ended (closed, deleted, no longer runnable).
   */
  private async awaitPlan(ws: WatchedWorkspace, abs: string, rel: string, hash: string, planRel: string, config: LoopConfig): Promise<string | null> {
    const root = ws.root;
    const waitMs = this.planWaitMsOverride ?? config.trigger_plan_wait_sec * 1000;
    if (waitMs <= 0) return hash;
    const until = Date.now() + waitMs;
    await this.host.store.transaction(async (tx) => {
      await tx.upsertSpecFile({ workspace_root: root, path: rel, content_hash: hash, status: 'waiting_plan' });
      await tx.appendEvent(null, null, 'TRIGGER_WAITING', { spec: rel, plan: planRel, until }, root);
    });
    this.host.log(`watch: ${root}: ${rel} waits up to ${waitMs} ms for ${planRel}`);
    const outcome = await waitForPlan(ws, resolve(root, planRel), waitMs);
    // Unwatched or stopped: the row stays 'waiting_plan', so a later start() finishes the job.
    if (outcome === 'aborted' || ws.closed) return null;
    // The spec may have been edited (or deleted) while we waited; decide on what is there now.
    const content = readText(abs);
    if (content === null) {
      await this.skip(root, rel, 'deleted', { content_hash: hash, status: 'skipped' });
      return null;
    }
    const now = sha256(content);
    const declared = specStatus(content);
    if (declared !== 'other') {
      await this.skip(root, rel, declared, { content_hash: now, status: declared });
      return null;
    }
    return now;
  }

  private async fire(ws: WatchedWorkspace, abs: string, rel: string, hashIn: string, reason: string, config: LoopConfig): Promise<void> {
    const root = ws.root;
    const planRel = defaultPlanPath(rel, config.plans_dir);
    const planAbs = resolve(root, planRel);
    const hash = existsSync(planAbs) ? hashIn : await this.awaitPlan(ws, abs, rel, hashIn, planRel, config);
    if (hash === null) return;
    // The plan is snapshotted with the run: it must be whole too (it may have just arrived).
    const plan = existsSync(planAbs) && (await this.settled(ws, planAbs, true)) ? planAbs : undefined;
    if (ws.closed) return;
    const planless = plan === undefined;
    try {
      const run = await this.host.createRun(
        { cwd: root, spec: abs, plan, origin: 'watch' },
        {
          // Same transaction as the run: a crash can neither lose the run's record here (and start
          // the spec twice after a restart) nor record a run that was never created. The claim
          // comes first: several hosts may watch this workspace, and one save makes one run.
          claim: async (tx, runId) => {
            if (!(await tx.claimSpecChange({ workspace_root: root, path: rel, content_hash: hash, run_id: runId }))) throw new DecidedElsewhere();
          },
          inTx: async (tx, r) => {
            await tx.appendEvent(r.id, null, 'TRIGGER_FIRED', { spec: rel, plan: planless ? null : planRel, reason, planless }, root);
          },
        },
      );
      this.host.log(`watch: ${root}: ${rel} started run ${run.name} (${run.id.slice(0, 8)}, ${reason}${planless ? ', plan-less' : ''})`);
    } catch (e) {
      if (e instanceof DecidedElsewhere) {
        this.host.log(`watch: ${root}: ${rel} was already started by another host's watcher (this save makes one run)`);
        return;
      }
      // A plan with nothing left to do is a decision, not a failure: the reason says it all.
      const why = message(e);
      if (why.startsWith('nothing to do:')) await this.skip(root, rel, why, { content_hash: hash, status: 'skipped' });
      else await this.skip(root, rel, `error: ${why}`, { content_hash: hash, status: 'error' });
    }
  }
}

/** Resolves when the plan appears, the wait times out, or the workspace is closed. */
function waitForPlan(ws: WatchedWorkspace, planAbs: string, waitMs: number): Promise<PlanWaitOutcome> {
  return new Promise((res) => {
    let timer: NodeJS.Timeout | undefined;
    const wait: PlanWait = {
      planAbs,
      finish: (outcome) => {
        if (!ws.waits.delete(wait)) return;
        clearTimeout(timer);
        res(outcome);
      },
    };
    ws.waits.add(wait);
    timer = setTimeout(() => wait.finish('timeout'), waitMs);
    // Registered first, checked second: a plan written between the caller's check and the
    // registration would otherwise only be noticed at the timeout.
    if (existsSync(planAbs)) wait.finish('arrived');
  });
}
