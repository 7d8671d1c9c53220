import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import type { LoopService } from '../host/service.js';
import { UserError } from '../host/service.js';
import { isBusy } from '../host/busy.js';

export interface Context {
  service: LoopService;
  authorized: boolean;
}

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  // Pings keep idle SSE connections alive; the client reconnects (resuming from the last event id)
  // when pings stop, which is how `tail -f` survives a daemon restart.
  sse: { ping: { enabled: true, intervalMs: 2000 }, client: { reconnectAfterInactivityMs: 5000 } },
  errorFormatter({ shape }) {
    return shape;
  },
});

export const router = t.router;

/** Maps domain errors to tRPC codes so clients get a clear one-line message. */
const errorMapping = t.middleware(async ({ next }) => {
  const res = await next();
  if (!res.ok && res.error.cause instanceof UserError) {
    throw new TRPCError({ code: res.error.cause.code, message: res.error.cause.message, cause: res.error.cause });
  }
  return res;
});

/**
 * A write that met another process's database lock is run again once it is free (host/busy.ts);
 * store calls roll back when busy, so the procedure starts over from a clean state.
 */
const busyRetry = t.middleware(async ({ next }) => {
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    const res = await next();
    if (res.ok || !isBusy(res.error.cause)) return res;
    await new Promise((r) => setTimeout(r, delay));
  }
});

export const publicProcedure = t.procedure.use(errorMapping).use(busyRetry);

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.authorized) {
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: 'missing or wrong bearer token: loopctl reads it from $LOOPD_HOME/auth-token, or set LOOPD_AUTH_TOKEN',
    });
  }
  return next();
});
