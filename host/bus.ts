// In-process fan-out of committed events and of "output grew" notices, used to wake the
// dispatcher and SSE subscribers without polling.
import { EventEmitter } from 'node:events';
import type { EventRow } from './store.js';

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
  publish(ev: EventRow): void {
    this.emit('event', ev);
  }
  outputGrew(n: OutputNotice): void {
    this.emit('output', n);
  }
}
