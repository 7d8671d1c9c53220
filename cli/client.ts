// The typed client for loopd, used by loopctl and by other TypeScript programs:
//
//   import { createLoopClient } from 'loopd/client';
//   const loop = createLoopClient();
//   const run = await loop.runs.create.mutate({ cwd: process.cwd(), spec: 'specs/x.md' });
//
// It finds the daemon the same way loopctl does (see discoverDaemon) unless given url and token.
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, type TRPCClient } from '@trpc/client';
import { EventSource } from 'eventsource';
import superjson from 'superjson';
import { discoverDaemon, normalizeUrl, type LoopClientOptions } from './locate.js';
import type { AppRouter } from '../router/index.js';
import { MAX_BATCH_SIZE } from '../router/limits.js';

export type * from '../router/index.js';
export type { DaemonInfo } from '../core/home.js';
/** The event and step-result contracts, for programs that read loopd's events and steps. */
export type * from '../core/events.js';
export { isEventOf } from '../core/events.js';
export type * from '../core/results.js';
export * from './locate.js';

export type LoopClient = TRPCClient<AppRouter>;

export function createLoopClient(opts: LoopClientOptions = {}): LoopClient {
  const loc = discoverDaemon(opts);
  return createClientFor(loc.url, loc.token);
}

/** A client for a known base URL and token (null sends no Authorization header). */
export function createClientFor(url: string, token: string | null): LoopClient {
  const trpcUrl = `${normalizeUrl(url)}/trpc`;
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url: trpcUrl,
          transformer: superjson,
          EventSource,
          // eventsource v3+ has no headers option; its fetch override is the way to send the token.
          eventSourceOptions: () => ({
            fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...auth } }),
          }),
        }),
        false: httpBatchLink({ url: trpcUrl, transformer: superjson, headers: () => auth, maxItems: MAX_BATCH_SIZE }),
      }),
    ],
  });
}

