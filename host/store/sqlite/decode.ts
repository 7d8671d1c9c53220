// Rows to records: the JSON columns decoded, 0/1 columns as booleans. The only place the SQLite
// backend knows how a record is encoded.
import type { StepResultFacts } from '../../../core/results.js';
import type { ArtifactRecord, EventRecord, ReviewRecord, RunRecord, SpecFileRecord, StepInputFacts, StepProcess, StepRecord, WorkspaceRecord } from '../types.js';
import type { ArtifactRow, EventRow, ReviewRow, RunRow, SpecFileRow, StepRow, WorkspaceRow } from './rows.js';

const json = <T>(text: string | null | undefined): T | null => (text ? (JSON.parse(text) as T) : null);

export function runRecord(r: RunRow): RunRecord {
  const { config_json, cancel_requested, finalized_at, ...rest } = r;
  return { ...rest, config: json<Record<string, unknown>>(config_json) ?? {}, cancel_requested: cancel_requested !== 0, finalized_at: finalized_at ?? null };
}

export function stepRecord(s: StepRow): StepRecord {
  const { result_json, process_json, input_json, cost_usd, input_tokens, output_tokens, cost_source, ...rest } = s;
  return {
    ...rest,
    result: json<StepResultFacts>(result_json),
    process: json<StepProcess>(process_json),
    input: json<StepInputFacts>(input_json),
    cost_usd: cost_usd ?? null,
    input_tokens: input_tokens ?? null,
    output_tokens: output_tokens ?? null,
    cost_source: cost_source ?? null,
  };
}

export function eventRecord(e: EventRow): EventRecord {
  return {
    seq: e.seq,
    runId: e.run_id,
    stepId: e.step_id,
    workspaceRoot: e.workspace_root,
    ts: e.ts,
    type: e.type,
    payload: json<Record<string, unknown>>(e.payload_json) ?? {},
  } as EventRecord;
}

export const workspaceRecord = (w: WorkspaceRow): WorkspaceRecord => ({ ...w, watched: w.watched !== 0 });
export const reviewRecord = (r: ReviewRow): ReviewRecord => {
  const { detail_json, ...rest } = r;
  return { ...rest, detail: json<Record<string, unknown>>(detail_json) ?? {} };
};
export const specFileRecord = (r: SpecFileRow): SpecFileRecord => ({ ...r });
export const artifactRecord = (a: ArtifactRow): ArtifactRecord => ({ ...a });
