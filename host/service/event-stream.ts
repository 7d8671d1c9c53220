// Event streams: replay stored events after a cursor, then follow new ones, woken by the bus (which
// only says "something committed"; the events themselves are read back from the store, so another
// host's events, seen through the same store, look exactly like this host's).
import type { EventBus, PublishedEvent } from '../bus.js';
import type { StoreReads } from '../store/types.js';
import type { EventView } from '../views.js';
import { eventViews } from './run-views.js';
import { Waiter } from './waiter.js';

const TERMINAL_EVENTS = new Set(['RUN_COMPLETED', 'RUN_FAILED', 'RUN_CANCELED']);
const PAGE = 500;
/** A wake-up the bus did not give (an event committed by another host) is noticed this late at most. */
const IDLE_RECHECK_MS = 5000;

export interface EventFollow {
  filter: { runId?: string; workspace?: string };
  /** Which published events wake this stream. */
  matches: (ev: PublishedEvent) => boolean;
  afterSeq: number;
  follow: boolean;
  signal: AbortSignal;
  /** Asked when nothing new came: true ends the stream (the run ended before the stream opened). */
  finished?: () => Promise<boolean>;
}

/**
 * Replays stored events after `afterSeq`, then (when following) waits for new ones. A run's stream
 * ends after its terminal event; a workspace's runs until the client leaves.
 */
export async function* followEvents(store: StoreReads, bus: EventBus, f: EventFollow): AsyncGenerator<EventView> {
  const waiter = new Waiter(f.signal);
  const onEvent = (ev: PublishedEvent) => {
    if (f.matches(ev)) waiter.poke();
  };
  bus.on('event', onEvent);
  try {
    let cursor = f.afterSeq;
    while (!f.signal.aborted) {
      waiter.reset();
      const rows = await store.eventsAfter({ ...f.filter, afterSeq: cursor, limit: PAGE });
      let ended = false;
      for (const view of await eventViews(store, rows)) {
        cursor = view.seq;
        yield view;
        if (f.filter.runId && TERMINAL_EVENTS.has(view.type)) ended = true;
      }
      if (rows.length === PAGE) continue;
      if (!f.follow || ended) return;
      if (rows.length === 0 && f.finished && (await f.finished())) return;
      await waiter.wait(IDLE_RECHECK_MS);
    }
  } finally {
    bus.off('event', onEvent);
  }
}
