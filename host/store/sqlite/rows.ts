// The rows of the SQLite tables as node:sqlite returns them (JSON still encoded, booleans as 0/1).
// Only the engine (host/store/sqlite/) sees them: host/store/sqlite/decode.ts turns them into the
// records of host/store/types.ts.
import type { AgentHold, ArtifactRecord, MergeLock, RunRecord, SpecFileRecord, StepRecord } from '../types.js';
import type { PublishedEvent } from '../../bus.js';

/** A run's row: the record's columns, with the config still JSON and the flag as 0/1. */
export type RunRow = Omit<RunRecord, 'config' | 'cancel_requested' | 'finalized_at'> & {
  config_json: string;
  cancel_requested: number;
  /** 0005: when the file work after the run's end was done (NULL while owed). */
  finalized_at?: number | null;
};

/** A step's row: the record's columns, with result, input and process still JSON. */
export type StepRow = Omit<StepRecord, 'result' | 'input' | 'process' | 'cost_usd' | 'input_tokens' | 'output_tokens' | 'cost_source'> & {
  result_json: string | null;
  process_json: string | null;
  /** 0005: what the step was queued with. */
  input_json?: string | null;
  /** 0003_step_usage: what this step's agent used (NULL when it ran none). */
  cost_usd?: number | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  cost_source?: string | null;
};

/** Defined with the bus, which only carries it. */
export type EventRow = PublishedEvent;

/** Stored as the record is: no column needs decoding. */
export type ArtifactRow = ArtifactRecord;

/** Stored as the record is: no column needs decoding. */
export type AgentHoldRow = AgentHold;

/** Stored as the record is: no column needs decoding. */
export type MergeLockRow = MergeLock;

export interface ReviewRow {
  run_id: string;
  status: 'merged' | 'scrapped' | 'pr_opened';
  actor: string;
  detail_json: string;
  created_at: number;
  updated_at: number;
}

export interface WorkspaceRow {
  root: string;
  watched: number;
  created_at: number;
  updated_at: number;
}

/** Stored as the record is: no column needs decoding. */
export type SpecFileRow = SpecFileRecord;
