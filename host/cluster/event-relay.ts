// Events across hosts for the daemon: other hosts' events, published into this host's EventBus in
// sequence order, so everything that listens to the bus (the SSE subscriptions, which then read the
// store after their cursor; the dispatcher's wake-ups; the event log lines) sees the whole cluster.
// This host's own events reach the bus from PgStore at COMMIT, as with SQLite; the relay skips
// them by events.host_id. Reads stop at the settled horizon (host/pg/event-horizon.ts), so an
// event still committing on another host is delivered late rather than never.
import type { EventBus, PublishedEvent } from '../bus.js';
import { openPool } from '../pg/connect.js';
import { subscribeEvents, type PgEvent } from '../pg/events.js';

export interface EventRelayOptions {
  url: string;
  /** This host's id, as PgStore writes it on its events. */
  hostId: string;
  bus: Pick<EventBus, 'publish'>;
  /** Called after each relayed event (the coordinator wakes the dispatcher). */
  onForeignEvent?: (e: PublishedEvent) => void;
  onError?: (e: unknown) => void;
}

export interface EventRelay {
  close(): Promise<void>;
}

/** Starts relaying from now on (history is the store's to serve: eventsAfter). */
export async function startEventRelay(o: EventRelayOptions): Promise<EventRelay> {
  const pool = openPool(o.url, 2);
  const relay = (e: PgEvent): void => {
    if (e.host_id === o.hostId) return;
    const ev: PublishedEvent = { seq: e.seq, run_id: e.run_id, step_id: e.step_id, workspace_root: e.workspace_root, type: e.type, ts: e.ts, payload_json: e.payload_json, relayed_from: e.host_id };
    o.bus.publish(ev);
    o.onForeignEvent?.(ev);
  };
  let sub;
  try {
    sub = await subscribeEvents(o.url, pool, 'now', relay, {}, { ...(o.onError ? { onError: o.onError } : {}) });
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
  const opened = sub;
  return {
    close: async () => {
      await opened.close();
      await pool.end().catch(() => {});
    },
  };
}
