// The only API surface of loopd. Clients import `type AppRouter` from here.
import { authedProcedure, mergeRouters, publicProcedure, router } from './trpc.js';
import { z } from 'zod';
import { dashboardRouter } from './dashboard.js';
import { reviewRouter } from './review.js';
import { runsRouter } from './runs.js';
import { workspacesRouter } from './workspaces.js';

export const appRouter = router({
  health: publicProcedure.query(() => ({ ok: true as const })),
  daemon: router({
    status: authedProcedure.query(({ ctx }) => ctx.service.status()),
    /** drain: wait for in-flight steps; otherwise running agents are left for the next daemon to adopt. */
    stop: authedProcedure.input(z.object({ drain: z.boolean().optional() }).optional()).mutation(({ ctx, input }) => {
      ctx.service.requestStop({ drain: input?.drain ?? false });
      return { stopping: true as const, drain: input?.drain ?? false };
    }),
  }),
  runs: mergeRouters(runsRouter, reviewRouter),
  workspaces: workspacesRouter,
  dashboard: dashboardRouter,
});

export type AppRouter = typeof appRouter;
export type { Context } from './trpc.js';
export type * from '../host/views.js';
