// Row shapes of the PostgreSQL store: how a row read back becomes the record the LoopStore
// interface promises (JSON columns parsed, 0/1 flags as booleans), and the two query helpers.
import type { StepResultFacts } from '../../../core/results.js';
import type { Client, Pool } from '../../pg/connect.js';
import type { PublishedEvent as EventRow } from '../../bus.js';
import type { EventRecord, ReviewRecord, RunRecord, StepProcess, StepInputFacts, StepRecord, WorkspaceRecord } from '../types.js';

export type Db = Pick<Pool | Client, 'query'>;
export type Row = Record<string, unknown>;

export const json = <T>(text: unknown): T | null => (typeof text === 'string' && text ? (JSON.parse(text) as T) : null);

export function runRecord(r: Row): RunRecord {
  const { config_json, cancel_requested, agent: _agent, ...rest } = r;
  return { ...(rest as Omit<RunRecord, 'config' | 'cancel_requested'>), config: json<Record<string, unknown>>(config_json) ?? {}, cancel_requested: cancel_requested !== 0 };
}

export function stepRecord(s: Row): StepRecord {
  const { result_json, process_json, input_json, lease_epoch: _e, lease_expires_at: _x, ...rest } = s;
  return {
    ...(rest as Omit<StepRecord, 'result' | 'process' | 'input'>),
    result: json<StepResultFacts>(result_json),
    process: json<StepProcess>(process_json),
    input: json<StepInputFacts>(input_json),
  };
}

export const EVENT_COLS = 'seq, run_id, step_id, workspace_root, type, ts, payload_json';

export function eventRecord(e: EventRow): EventRecord {
  return { seq: e.seq, runId: e.run_id, stepId: e.step_id, workspaceRoot: e.workspace_root, ts: e.ts, type: e.type, payload: json<Record<string, unknown>>(e.payload_json) ?? {} } as EventRecord;
}

export const workspaceRecord = (w: Row): WorkspaceRecord => ({ ...(w as Omit<WorkspaceRecord, 'watched'>), watched: w.watched !== 0 });
export const reviewRecord = (r: Row): ReviewRecord => {
  const { detail_json, ...rest } = r;
  return { ...(rest as Omit<ReviewRecord, 'detail'>), detail: json<Record<string, unknown>>(detail_json) ?? {} };
};

export async function one(db: Db, sql: string, params: unknown[] = []): Promise<Row | undefined> {
  return (await db.query<Row>(sql, params)).rows[0];
}
export async function all(db: Db, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await db.query<Row>(sql, params)).rows;
}
