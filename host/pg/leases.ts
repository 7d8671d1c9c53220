// Step claims and leases on PostgreSQL, the heart of running several hosts on one database.
//
// A host claims a queued step with FOR UPDATE SKIP LOCKED, so hosts claiming at once never wait on
// or take the same row. The claim bumps the step's lease epoch and sets an expiry on the database
// clock; the host's heartbeat renews the expiry of the leases it still holds. Every later write for
// the step names the epoch it was claimed with and only lands while that lease is live (fencing):
// a host that was partitioned or frozen past its TTL gets LeaseLostError and must stop its agent.
// A lease that expired is reaped by whichever host looks first: the attempt is closed and a new
// attempt is queued, with a LEASE_EXPIRED event, in one transaction.
import { inTx, type Client, type Pool } from './connect.js';
import { appendEvent } from './events.js';

export class LeaseLostError extends Error {
  constructor(readonly stepId: number, readonly epoch: number) {
    super(`step ${stepId}: the lease (epoch ${epoch}) is no longer held by this host; its agent must stop`);
  }
}

export interface Lease {
  stepId: number;
  runId: string;
  phase: string;
  iteration: number;
  attempt: number;
  epoch: number;
  expiresAt: number;
}

export interface ClaimLimits {
  hostId: string;
  leaseTtlMs: number;
  /** This host's cap; other hosts' steps do not count. */
  maxConcurrency: number;
  agents: string[];
  workspaces: string[];
}

const CANDIDATES = 8;

/** Claims at most one step this host may run, or returns null. */
export async function claimStep(pool: Pool, lim: ClaimLimits): Promise<Lease | null> {
  return inTx(pool, async (c) => {
    const busy = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM steps WHERE status = 'IN_PROGRESS' AND lease_owner = $1`, [lim.hostId]);
    if ((busy.rows[0]?.n ?? 0) >= lim.maxConcurrency) return null;
    // One candidate at a time, so a claimer locks only the row it takes; a merge held up by
    // another host's merge into the same target is passed over for the next candidate.
    const passed: number[] = [];
    for (let tries = 0; tries < CANDIDATES; tries++) {
      const { rows } = await c.query<{ id: number; run_id: string; phase: string; workspace_root: string; merge_target_branch: string | null }>(
        `SELECT s.id, s.run_id, s.phase, r.workspace_root, r.merge_target_branch
           FROM steps s JOIN runs r ON r.id = s.run_id
          WHERE s.status = 'QUEUED' AND (s.not_before IS NULL OR s.not_before <= loopd_now_ms())
            AND r.status = 'RUNNING' AND r.cancel_requested = 0
            AND r.workspace_root = ANY($1::text[]) AND r.agent = ANY($2::text[]) AND s.id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM agent_holds h WHERE h.agent = r.agent AND h.until > loopd_now_ms())
          ORDER BY s.id
          LIMIT 1
          FOR UPDATE OF s SKIP LOCKED`,
        [lim.workspaces, lim.agents, passed],
      );
      const cand = rows[0];
      if (!cand) return null;
      passed.push(cand.id);
      if (cand.phase === 'merge' && cand.merge_target_branch !== null) {
        // A second host inserting the same (workspace, target) waits for the first to commit,
        // then conflicts: the merge lock row is the serialization.
        const lock = await c.query(
          `INSERT INTO merge_locks (workspace_root, target_branch, step_id, created_at) VALUES ($1, $2, $3, loopd_now_ms())
           ON CONFLICT DO NOTHING RETURNING step_id`,
          [cand.workspace_root, cand.merge_target_branch, cand.id],
        );
        if (!lock.rowCount) continue;
      }
      const claimed = await c.query<{ id: number; run_id: string; phase: string; iteration: number; attempt: number; lease_epoch: number; lease_expires_at: number }>(
        `UPDATE steps SET status = 'IN_PROGRESS', lease_owner = $2, lease_epoch = lease_epoch + 1,
                lease_expires_at = loopd_now_ms() + $3, started_at = loopd_now_ms(), updated_at = loopd_now_ms()
          WHERE id = $1 RETURNING id, run_id, phase, iteration, attempt, lease_epoch, lease_expires_at`,
        [cand.id, lim.hostId, lim.leaseTtlMs],
      );
      const s = claimed.rows[0];
      if (!s) continue;
      await appendEvent(c, { runId: s.run_id, stepId: s.id, hostId: lim.hostId, type: 'STEP_CLAIMED', payload: { phase: s.phase, iteration: s.iteration, attempt: s.attempt, host: lim.hostId, epoch: s.lease_epoch } });
      return { stepId: s.id, runId: s.run_id, phase: s.phase, iteration: s.iteration, attempt: s.attempt, epoch: s.lease_epoch, expiresAt: s.lease_expires_at };
    }
    return null;
  });
}

/**
 * The statement that renews a host's live leases (`owner`: the host id, `ttl`: the TTL in ms, as
 * SQL expressions): a whole TTL from now on the database clock, and never for a lease already
 * expired, reaped or not, so a late renewal cannot race a takeover. Used by both heartbeats and by
 * the host's registration (hosts.ts), which is its first.
 */
export function renewLiveLeases(owner: string, ttl: string): string {
  return `UPDATE steps SET lease_expires_at = loopd_now_ms() + ${ttl}
    WHERE lease_owner = ${owner} AND status = 'IN_PROGRESS' AND lease_expires_at > loopd_now_ms()`;
}

/**
 * Renews this host's heartbeat and every lease it still holds. Returns the steps whose lease it
 * lost (expired or taken over): the caller stops their agents. An expired lease is never revived,
 * even when nobody has reaped it yet, so a late heartbeat cannot race a takeover.
 */
export async function heartbeat(pool: Pool, hostId: string, ttlMs: number, held: Lease[]): Promise<{ lost: Lease[]; renewed: Lease[] }> {
  return inTx(pool, async (c) => {
    await c.query('UPDATE hosts SET heartbeat_at = loopd_now_ms() WHERE id = $1', [hostId]);
    const { rows } = await c.query<{ id: number; lease_epoch: number; lease_expires_at: number }>(
      `${renewLiveLeases('$1', '$2')} RETURNING id, lease_epoch, lease_expires_at`,
      [hostId, ttlMs],
    );
    const live = new Map(rows.map((r) => [r.id, r]));
    const lost: Lease[] = [];
    const renewed: Lease[] = [];
    for (const l of held) {
      const r = live.get(l.stepId);
      if (r && r.lease_epoch === l.epoch) renewed.push({ ...l, expiresAt: r.lease_expires_at });
      else lost.push(l);
    }
    return { lost, renewed };
  });
}

/**
 * A daemon's heartbeat: renews the host row and the leases of the steps it runs (by id: a step id
 * never changes hands, a requeue is a new row). Returns the ids whose lease is gone (expired, even
 * if nobody reaped it yet, or already reaped): the caller stops their agents. A step the host has
 * just recorded as finished, and still counts as running for a moment, is not lost.
 */
export async function renewLeases(pool: Pool, hostId: string, ttlMs: number, stepIds: readonly number[]): Promise<{ lost: number[] }> {
  return inTx(pool, async (c) => {
    await c.query('UPDATE hosts SET heartbeat_at = loopd_now_ms(), stopped_at = NULL WHERE id = $1', [hostId]);
    const { rows } = await c.query<{ id: number }>(
      `${renewLiveLeases('$1', '$2')} RETURNING id`,
      [hostId, ttlMs],
    );
    const live = new Set(rows.map((r) => Number(r.id)));
    const gone = stepIds.filter((id) => !live.has(id));
    if (gone.length === 0) return { lost: [] };
    // A step this host just finished is not lost; one expired (reaped or not yet) is.
    const { rows: lost } = await c.query<{ id: number }>(
      `SELECT id FROM steps WHERE id = ANY($1::bigint[]) AND (status = 'IN_PROGRESS' OR error = 'LEASE_EXPIRED')`,
      [gone],
    );
    return { lost: lost.map((r) => Number(r.id)) };
  });
}

/**
 * The steps this host held whose lease expired and was reaped while it was away (a restart that
 * took longer than the TTL), with their recorded processes: an agent of one still running must be
 * stopped, since the step runs again elsewhere. Newest first, bounded.
 */
export async function reapedStepsOf(pool: Pool, hostId: string, limit = 200): Promise<{ id: number; process: string | null }[]> {
  const { rows } = await pool.query<{ id: number; process_json: string | null }>(
    `SELECT id, process_json FROM steps WHERE lease_owner = $1 AND status = 'FAILED' AND error = 'LEASE_EXPIRED' AND process_json IS NOT NULL
      ORDER BY id DESC LIMIT $2`,
    [hostId, limit],
  );
  return rows.map((r) => ({ id: Number(r.id), process: r.process_json }));
}

/** Runs the cluster may have active at once: the max_concurrency of every live host, added up. */
export async function clusterRunSlots(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number | null }>(
    `SELECT sum(max_concurrency)::int AS n FROM hosts WHERE stopped_at IS NULL AND heartbeat_at + lease_ttl_ms > loopd_now_ms()`,
  );
  return rows[0]?.n ?? 0;
}

/** Runs fn inside a transaction only while the lease is still live; throws LeaseLostError otherwise. */
export async function withLease<T>(pool: Pool, hostId: string, lease: Lease, fn: (c: Client) => Promise<T>): Promise<T> {
  return inTx(pool, async (c) => {
    const held = await c.query(
      `SELECT 1 FROM steps WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND status = 'IN_PROGRESS'
          AND lease_expires_at > loopd_now_ms() FOR UPDATE`,
      [lease.stepId, hostId, lease.epoch],
    );
    if (!held.rowCount) throw new LeaseLostError(lease.stepId, lease.epoch);
    return fn(c);
  });
}

export interface Completion {
  status: 'SUCCEEDED' | 'FAILED';
  exitCode?: number | null;
  result?: object | null;
  error?: string | null;
  /** The next step to queue in the same transaction (the transition rules' decision). */
  next?: { phase: string; iteration: number; input?: object } | null;
  /** Set when the run ends with this step. */
  runStatus?: 'COMPLETED' | 'FAILED' | null;
}

/** Records a step's outcome, fenced by its lease epoch, with its event and the next step. */
export async function completeStep(pool: Pool, hostId: string, lease: Lease, done: Completion): Promise<void> {
  await withLease(pool, hostId, lease, async (c) => {
    await c.query(
      `UPDATE steps SET status = $2, exit_code = $3, result_json = $4, error = $5, lease_expires_at = NULL,
              ended_at = loopd_now_ms(), updated_at = loopd_now_ms() WHERE id = $1`,
      [lease.stepId, done.status, done.exitCode ?? null, done.result ? JSON.stringify(done.result) : null, done.error ?? null],
    );
    await c.query('DELETE FROM merge_locks WHERE step_id = $1', [lease.stepId]);
    await appendEvent(c, { runId: lease.runId, stepId: lease.stepId, hostId, type: done.status === 'SUCCEEDED' ? 'STEP_SUCCEEDED' : 'STEP_FAILED', payload: { phase: lease.phase, iteration: lease.iteration, attempt: lease.attempt, epoch: lease.epoch, ...(done.error ? { error: done.error } : {}) } });
    if (done.next) {
      await c.query(
        `INSERT INTO steps (run_id, phase, status, iteration, attempt, input_json, created_at, updated_at)
         VALUES ($1, $2, 'QUEUED', $3, 1, $4, loopd_now_ms(), loopd_now_ms())`,
        [lease.runId, done.next.phase, done.next.iteration, done.next.input ? JSON.stringify(done.next.input) : null],
      );
    }
    if (done.runStatus) {
      await c.query(`UPDATE runs SET status = $2, ended_at = loopd_now_ms(), updated_at = loopd_now_ms() WHERE id = $1`, [lease.runId, done.runStatus]);
      await appendEvent(c, { runId: lease.runId, stepId: null, hostId, type: done.runStatus === 'COMPLETED' ? 'RUN_COMPLETED' : 'RUN_FAILED', payload: {} });
    }
  });
}

/**
 * Closes every attempt whose lease expired and queues a fresh attempt of the same step. Safe to
 * run on every host at once: the row lock and the status check let exactly one host reap each.
 */
export async function reapExpiredLeases(pool: Pool, reaperHostId: string): Promise<{ stepId: number; newStepId: number; runId: string; host: string | null }[]> {
  return inTx(pool, async (c) => {
    const { rows } = await c.query<{ id: number; run_id: string; phase: string; iteration: number; attempt: number; lease_owner: string | null; lease_epoch: number; input_json: string | null }>(
      `UPDATE steps SET status = 'FAILED', error = 'LEASE_EXPIRED', ended_at = loopd_now_ms(), updated_at = loopd_now_ms(),
              result_json = '{"requeued":true}', lease_expires_at = NULL
        WHERE id IN (SELECT id FROM steps WHERE status = 'IN_PROGRESS' AND lease_expires_at <= loopd_now_ms() FOR UPDATE SKIP LOCKED)
        RETURNING id, run_id, phase, iteration, attempt, lease_owner, lease_epoch, input_json`,
    );
    const out: { stepId: number; newStepId: number; runId: string; host: string | null }[] = [];
    if (rows.length) await c.query('DELETE FROM merge_locks WHERE step_id = ANY($1::bigint[])', [rows.map((s) => s.id)]);
    for (const s of rows) {
      const ins = await c.query<{ id: number }>(
        `INSERT INTO steps (run_id, phase, status, iteration, attempt, input_json, created_at, updated_at)
         VALUES ($1, $2, 'QUEUED', $3, $4, $5, loopd_now_ms(), loopd_now_ms()) RETURNING id`,
        [s.run_id, s.phase, s.iteration, s.attempt + 1, s.input_json],
      );
      const newStepId = ins.rows[0]!.id;
      await appendEvent(c, { runId: s.run_id, stepId: s.id, hostId: reaperHostId, type: 'LEASE_EXPIRED', payload: { phase: s.phase, iteration: s.iteration, attempt: s.attempt, epoch: s.lease_epoch, host: s.lease_owner, requeuedAs: newStepId, nextAttempt: s.attempt + 1 } });
      out.push({ stepId: s.id, newStepId, runId: s.run_id, host: s.lease_owner });
    }
    return out;
  });
}

/** Same-host restart: the leases this host still holds and that are live, to re-adopt its agents. */
export async function liveLeasesOf(pool: Pool, hostId: string): Promise<Lease[]> {
  const { rows } = await pool.query<{ id: number; run_id: string; phase: string; iteration: number; attempt: number; lease_epoch: number; lease_expires_at: number }>(
    `SELECT id, run_id, phase, iteration, attempt, lease_epoch, lease_expires_at FROM steps
      WHERE lease_owner = $1 AND status = 'IN_PROGRESS' AND lease_expires_at > loopd_now_ms() ORDER BY id`,
    [hostId],
  );
  return rows.map((s) => ({ stepId: s.id, runId: s.run_id, phase: s.phase, iteration: s.iteration, attempt: s.attempt, epoch: s.lease_epoch, expiresAt: s.lease_expires_at }));
}

/**
 * Admits PENDING runs to RUNNING while the workspace has fewer than maxPerWorkspace running runs,
 * counted across every host. A per-workspace advisory lock makes concurrent admitters take turns.
 */
export async function admitRuns(pool: Pool, hostId: string, maxPerWorkspace: number): Promise<string[]> {
  return inTx(pool, async (c) => {
    const { rows: pending } = await c.query<{ workspace_root: string }>(`SELECT DISTINCT workspace_root FROM runs WHERE status = 'PENDING'`);
    const admitted: string[] = [];
    for (const { workspace_root: ws } of pending) {
      await c.query(`SELECT pg_advisory_xact_lock(hashtextextended('admit:' || $1, 0))`, [ws]);
      const { rows } = await c.query<{ id: string }>(
        `UPDATE runs SET status = 'RUNNING', started_at = loopd_now_ms(), updated_at = loopd_now_ms()
          WHERE id IN (SELECT id FROM runs WHERE workspace_root = $1 AND status = 'PENDING' ORDER BY created_at, id
                        LIMIT GREATEST(0, $2 - (SELECT count(*) FROM runs WHERE workspace_root = $1 AND status IN ('RUNNING','PAUSED'))))
          RETURNING id`,
        [ws, maxPerWorkspace],
      );
      for (const r of rows) {
        await appendEvent(c, { runId: r.id, stepId: null, hostId, type: 'RUN_STARTED', payload: { host: hostId } });
        admitted.push(r.id);
      }
    }
    return admitted;
  });
}
