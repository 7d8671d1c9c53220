// The dashboard's typed client: the same tRPC API and SSE subscriptions loopctl uses, signed in by
// the session cookie. Every request carries the dashboard header the daemon requires of
// cookie-authenticated mutations (a cross-site page cannot send it).
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { useSyncExternalStore } from 'react';
import superjson from 'superjson';
import type { AppRouter } from '../../router/index.js';

export type * from '../../router/index.js';

const url = `${window.location.origin}/trpc`;

export const trpc = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === 'subscription',
      // Same origin: the browser's EventSource sends the cookie by itself.
      true: httpSubscriptionLink({ url, transformer: superjson }),
      false: httpBatchLink({ url, transformer: superjson, headers: () => ({ 'x-loopd-dashboard': '1' }) }),
    }),
  ],
});

// A session that ends while the page is open (the daemon's token changed, or it expired) turns
// every answer into 401: say once, at the top, how to get back in.
let signedOut = false;
const signedOutListeners = new Set<() => void>();

export function noteError(e: unknown): void {
  const code = (e as { data?: { code?: string } } | null)?.data?.code;
  if (code !== 'UNAUTHORIZED' || signedOut) return;
  signedOut = true;
  for (const l of signedOutListeners) l();
}

export function useSignedOut(): boolean {
  return useSyncExternalStore(
    (cb) => {
      signedOutListeners.add(cb);
      return () => signedOutListeners.delete(cb);
    },
    () => signedOut,
  );
}

export const queryClient = new QueryClient({
  queryCache: new QueryCache({ onError: noteError }),
  mutationCache: new MutationCache({ onError: noteError }),
  defaultOptions: {
    // Freshness comes from the live event feed, which invalidates what changed: no polling.
    queries: { staleTime: Infinity, refetchOnWindowFocus: false, retry: 1 },
  },
});

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export { RUN_STATUSES, type RunStatus } from '../../core/types.js';
