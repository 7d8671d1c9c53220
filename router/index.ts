// The only API surface of loopd. Clients import `type AppRouter` from here.
import { authedProcedure, publicProcedure, router } from './trpc.js';
import { runsRouter } from './runs.js';

export const appRouter = router({
  health: publicProcedure.query(() => ({ ok: true as const })),
  daemon: router({
    status: authedProcedure.query(({ ctx }) => ctx.service.status()),
    stop: authedProcedure.mutation(({ ctx }) => {
      ctx.service.requestStop();
      return { stopping: true as const };
    }),
  }),
  runs: runsRouter,
});

export type AppRouter = typeof appRouter;
export type { Context } from './trpc.js';
export type * from '../host/views.js';
