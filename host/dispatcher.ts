// The dispatcher lives in host/dispatch/ (one room per job). This module keeps the import path
// the daemon and its services use, plus two adapters for callers still on the synchronous engine
// rows (host/store.ts); those move to host/run-input.ts with the LoopStore.
import type { LoopConfig } from '../core/config.js';
import type { RunInput } from '../functions/types.js';
import { runInput as runInputOf } from './run-input.js';
import type { RunRow } from './store.js';
import { runRecord } from './store/sqlite.js';

export { Dispatcher, summaryExitReason, systemClock, type Clock, type DispatcherOptions } from './dispatch/index.js';

/** @deprecated take the decoded RunRecord and host/run-input.ts's runConfig. */
export function parseConfig(run: RunRow): LoopConfig {
  return JSON.parse(run.config_json) as LoopConfig;
}

/** @deprecated take the decoded RunRecord and host/run-input.ts's runInput. */
export function runInput(run: RunRow, truth?: { spec_text: string; plan_text: string | null } | undefined): RunInput {
  return runInputOf(runRecord(run), truth);
}
