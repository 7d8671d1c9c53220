// One live feed for the whole page: every event the daemon records (runs.feed, SSE, resumed by
// sequence number after a reconnect). Each event marks what it changed as stale; TanStack Query
// refetches only what is on screen. Events of a run are also appended to its timeline directly.
import { useEffect, useState } from 'react';
import { noteError, queryClient, trpc, type EventView } from './api.js';

export type FeedState = 'connecting' | 'live' | 'reconnecting';

const listeners = new Set<(ev: EventView) => void>();

export function onEvent(fn: (ev: EventView) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// Bursts of events (a step finishing writes several) become one refetch per query.
const pendingKeys = new Map<string, readonly unknown[]>();
let flushQueued = false;
function invalidate(key: readonly unknown[]): void {
  pendingKeys.set(JSON.stringify(key), key);
  if (flushQueued) return;
  flushQueued = true;
  setTimeout(() => {
    flushQueued = false;
    const keys = [...pendingKeys.values()];
    pendingKeys.clear();
    for (const k of keys) void queryClient.invalidateQueries({ queryKey: k });
  }, 100);
}

const DIFF_EVENTS = /^(STEP_FINISHED|RUN_|REVIEW_|MERGED|MERGE_|PR_OPENED|LEFTOVER_COMMITTED|WORKTREE_)/;

function apply(ev: EventView): void {
  invalidate(['runs']);
  invalidate(['status']);
  if (ev.runId) {
    invalidate(['run', ev.runId]);
    if (DIFF_EVENTS.test(ev.type)) invalidate(['diff', ev.runId]);
    queryClient.setQueryData<EventView[]>(['events', ev.runId], (old) => (old && !old.some((e) => e.seq === ev.seq) ? [...old, ev] : old));
  } else {
    invalidate(['workspaces']);
  }
  for (const l of listeners) l(ev);
}

export function useFeed(): FeedState {
  const [state, setState] = useState<FeedState>('connecting');
  useEffect(() => {
    const sub = trpc.runs.feed.subscribe({}, {
      onStarted: () => {
        setState('live');
        // Whatever happened before the feed started is fetched fresh.
        void queryClient.invalidateQueries();
      },
      onData: ({ data }) => apply(data),
      onConnectionStateChange: (s) => {
        if (s.state === 'connecting') setState(s.error ? 'reconnecting' : 'connecting');
        if (s.state === 'pending') setState('live');
      },
      onError: (e) => {
        noteError(e);
        setState('reconnecting');
      },
    });
    return () => sub.unsubscribe();
  }, []);
  return state;
}
