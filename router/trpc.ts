import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import type { ReviewService } from '../host/review-service.js';
import type { LoopService } from '../host/service.js';
import { UserError } from '../host/service.js';
import { isBusy } from '../host/busy.js';
import { MAX_BATCH_SIZE, MAX_BODY_BYTES } from './limits.js';
import { transformer } from './transformer.js';

export interface Context {
  service: LoopService;
  authorized: boolean;
  review: ReviewService;
  /** How the caller proved itself: the bearer token, or the dashboard's session cookie. */
  via: 'token' | 'session' | null;
  /** Issues the one-time codes `loopctl dashboard` puts in the sign-in URL. */
  dashboard: { issueCode(): { code: string; expiresAt: number } };
}

/** tRPC's own messages for its limits name no number and no way out. */
function limitMessage(code: string, message: string): string {
  if (code === 'PAYLOAD_TOO_LARGE') return `request body too large: loopd reads at most ${MAX_BODY_BYTES} bytes`;
  if (code === 'BAD_REQUEST' && /^Batch call exceeds/.test(message)) return `too many calls in one batch: at most ${MAX_BATCH_SIZE}, send the rest in another request`;
  return message;
}

/** Zod's issue list as one line ("limit: Too big: expected number to be <=10000"), not a JSON dump. */
export function zodErrorLine(err: ZodError): string {
  return err.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'input'}: ${i.message}`).join('; ');
}

const t = initTRPC.context<Context>().create({
  transformer,
  // Never put stack traces (absolute paths of the install) in answers; the daemon logs them.
  isDev: false,
  // Pings keep idle SSE connections alive; the client reconnects (resuming from the last event id)
  // when pings stop, which is how `tail -f` survives a daemon restart.
  sse: { ping: { enabled: true, intervalMs: 2000 }, client: { reconnectAfterInactivityMs: 5000 } },
  errorFormatter({ shape, error }) {
    // Code and message, nothing else: `data` keeps tRPC's code name and HTTP status for clients.
    const message = error.cause instanceof ZodError ? zodErrorLine(error.cause) : limitMessage(shape.data.code, shape.message);
    return { code: shape.code, message, data: { code: shape.data.code, httpStatus: shape.data.httpStatus } };
  },
});

export const router = t.router;
export const mergeRouters = t.mergeRouters;

function toTRPCError(e: unknown): unknown {
  return e instanceof UserError ? new TRPCError({ code: e.code, message: e.message, cause: e }) : e;
}

/** Subscriptions fail while streaming, after the middleware returned: map their errors too. */
async function* mapStreamErrors<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (e) {
    throw toTRPCError(e);
  }
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return v !== null && typeof v === 'object' && Symbol.asyncIterator in v;
}

/** Maps domain errors to tRPC codes so clients get a clear one-line message. */
const errorMapping = t.middleware(async ({ next }) => {
  const res = await next();
  if (!res.ok && res.error.cause instanceof UserError) {
    throw toTRPCError(res.error.cause);
  }
  if (res.ok && isAsyncIterable(res.data)) return { ...res, data: mapStreamErrors(res.data) };
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
