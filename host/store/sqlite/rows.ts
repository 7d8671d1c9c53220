// The rows of the SQLite tables as node:sqlite returns them (JSON still encoded, booleans as 0/1).
// Only the engine (host/store/sqlite/) sees them: host/store/sqlite/decode.ts turns them into the
// records of host/store/types.ts.
import type { RunStatus, StepPhase, StepStatus } from '../../../core/types.js';
import type { PublishedEvent } from '../../bus.js';

export interface RunRow {
  id: string;
  name: string;
  name_source: string;
  status: RunStatus;
  workspace_root: string;
  spec_path: string;
  plan_path: string | null;
  base_branch: string;
  run_branch: string;
  merge_target_branch: string | null;
  merge_strategy: string;
  worktree_path: string;
  worktree_provider: string;
  config_json: string;
  origin: string;
  run_dir: string;
  global_run_dir: string | null;
  exit_reason: string | null;
  last_error: string | null;
  cancel_requested: number;
  pause_reason: string | null;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
  /** 0005: when the file work after the run's end was done (NULL while owed). */
  finalized_at?: number | null;
}

export interface StepRow {
  id: number;
  run_id: string;
  phase: StepPhase;
  status: StepStatus;
  iteration: number;
  attempt: number;
  prompt_path: string | null;
  output_path: string | null;
  exit_code: number | null;
  result_json: string | null;
  error: string | null;
  not_before: number | null;
  lease_owner: string | null;
  pid: number | null;
  pid_start: string | null;
  pid_nonce: string | null;
  exit_path: string | null;
  process_json: string | null;
  /** 0003_step_usage: what this step's agent used (NULL when it ran none). */
  cost_usd?: number | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  cost_source?: string | null;
  /** 0005: what the step was queued with (JSON). */
  input_json?: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
}

/** Defined with the bus, which only carries it. */
export type EventRow = PublishedEvent;

export interface ArtifactRow {
  id: number;
  run_id: string;
  step_id: number | null;
  kind: string;
  location: 'workspace' | 'global';
  path: string;
  checksum: string;
  bytes: number;
}

export interface AgentHoldRow {
  agent: string;
  until: number;
  run_id: string | null;
  step_id: number | null;
}

export interface MergeLockRow {
  workspace_root: string;
  target_branch: string;
  step_id: number;
  created_at: number;
}

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

export interface SpecFileRow {
  workspace_root: string;
  /** Relative to the workspace root. */
  path: string;
  content_hash: string;
  /** recorded | draft | complete | waiting_plan | triggered | skipped | error */
  status: string;
  last_run_id: string | null;
  created_at: number;
  updated_at: number;
}
