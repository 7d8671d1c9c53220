// In-process fan-out of committed events and of "output grew" notices, used to wake the
// dispatcher and SSE subscribers without polling.
import { EventEmitter } from 'node:events';

/** A committed event as the store publishes it (the SQLite engine's EventRow, host/store/sqlite/rows.ts, is this shape). */
export interface PublishedEvent {
  seq: number;
  run_id: string | null;
  step_id: number | null;
  workspace_root: string | null;
  type: string;
  ts: number;
  payload_json: string;
  /** Set on another host's event relayed into this host's bus (host/cluster/event-relay.ts): the host that wrote it. */
  relayed_from?: string | null;
}

export interface OutputNotice {
  runId: string;
  stepId: number;
}

export class EventBus extends EventEmitter {
  constructor() {
    super();
    // Every SSE subscriber adds a listener; the default cap of 10 would warn spuriously.
    this.setMaxListeners(0);
  }
  publish(ev: PublishedEvent): void {
    this.emit('event', ev);
  }
  outputGrew(n: OutputNotice): void {
    this.emit('output', n);
  }
}
