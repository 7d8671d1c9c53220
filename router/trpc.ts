import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import type { ReviewService } from '../host/review-service.js';
import type { LoopService } from '../host/service.js';
import { UserError } from '../host/service.js';

export interface Context {
  service: LoopService;
  authorized: boolean;
  review: ReviewService;
  /** How the caller proved itself: the bearer token, or the dashboard's session cookie. */
  via: 'token' | 'session' | null;
  /** Issues the one-time codes `loopctl dashboard` puts in the sign-in URL. */
  dashboard: { issueCode(): { code: string; expiresAt: number } };
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
export const mergeRouters = t.mergeRouters;

/** Maps domain errors to tRPC codes so clients get a clear one-line message. */
const errorMapping = t.middleware(async ({ next }) => {
  const res = await next();
  if (!res.ok && res.error.cause instanceof UserError) {
    throw new TRPCError({ code: res.error.cause.code, message: res.error.cause.message, cause: res.error.cause });
  }
  return res;
});

export const publicProcedure = t.procedure.use(errorMapping);

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.authorized) {
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: 'missing or wrong bearer token: loopctl reads it from $LOOPD_HOME/auth-token, or set LOOPD_AUTH_TOKEN',
    });
  }
  return next();
});
