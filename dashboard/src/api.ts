// The dashboard's typed client: the same tRPC API and SSE subscriptions loopctl uses, signed in by
// the session cookie. Every request carries the dashboard header the daemon requires of
// cookie-authenticated mutations (a cross-site page cannot send it).
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import { QueryClient } from '@tanstack/react-query';
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

export const queryClient = new QueryClient({
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
