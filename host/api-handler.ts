// The tRPC request handler with loopd's limits and error logging.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { appRouter } from '../router/index.js';
import { MAX_BATCH_SIZE, MAX_BODY_BYTES } from '../router/limits.js';
import type { Context } from '../router/trpc.js';
import type { LogFn } from './logger.js';
import { OUTPUT_PATH, serveOutput } from './output-sse.js';


type AuthorizedRequest = IncomingMessage & { loopdAuthorized?: boolean; loopdVia?: 'token' | 'session' | null };

/** What the procedures get besides the caller's credentials. */
export type ApiServices = Pick<Context, 'service' | 'review' | 'dashboard'>;

export function createApiHandler(
  services: ApiServices,
  log: LogFn,
): (req: IncomingMessage, res: ServerResponse, authorized: boolean, via?: 'token' | 'session' | null) => void {
  const handler = createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    maxBodySize: MAX_BODY_BYTES,
    maxBatchSize: MAX_BATCH_SIZE,
    createContext: ({ req }): Context => ({
      ...services,
      authorized: (req as AuthorizedRequest).loopdAuthorized === true,
      via: (req as AuthorizedRequest).loopdVia ?? null,
    }),
    onError: ({ error, path }) => {
      // Answers carry code and message only; the stack is for the operator.
      if (error.code === 'INTERNAL_SERVER_ERROR') log(`internal error in ${path ?? '?'}: ${error.message}`, { level: 'error', stack: error.stack });
      else log(`${error.code} in ${path ?? '?'}: ${error.message}`, { level: 'debug', stack: error.stack });
    },
  });
  return (req, res, authorized, via) => {
    (req as AuthorizedRequest).loopdAuthorized = authorized;
    (req as AuthorizedRequest).loopdVia = via ?? null;
    // Agent output, the one high-volume stream, is written from the logs without tRPC's copies.
    if (authorized && req.url?.startsWith(OUTPUT_PATH)) {
      const open = services.service.openOutput.bind(services.service);
      serveOutput(req, res, open, log).then(
        (served) => {
          if (!served) handler(req, res);
        },
        (err: unknown) => {
          log(`runs.output stream failed: ${err instanceof Error ? err.message : String(err)}`, { level: 'error' });
          if (!res.headersSent) handler(req, res);
          else res.destroy();
        },
      );
      return;
    }
    handler(req, res);
  };
}
