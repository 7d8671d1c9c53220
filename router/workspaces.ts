import { tracked } from '@trpc/server';
import { z } from 'zod';
import { eventWindow } from './runs.js';
import { authedProcedure, router } from './trpc.js';

const wsRef = z.object({ path: z.string().min(1, 'a workspace path is required') });

export const workspacesRouter = router({
  /** Registers a workspace (its git root) with the spec watcher. */
  watch: authedProcedure.input(wsRef).mutation(({ ctx, input }) => ctx.service.watchWorkspace(input.path)),
  unwatch: authedProcedure.input(wsRef).mutation(({ ctx, input }) => ctx.service.unwatchWorkspace(input.path)),
  list: authedProcedure.query(({ ctx }) => ctx.service.listWorkspaces()),

  /** Every event of a workspace: its runs' events and the trigger's decisions. */
  eventsList: authedProcedure
    .input(
      wsRef.extend({ afterSeq: z.number().int().nonnegative().optional(), limit: z.number().int().positive().max(10000).optional(), ...eventWindow }),
    )
    .query(({ ctx, input }) =>
      ctx.service.listWorkspaceEvents(input.path, input.afterSeq ?? 0, input.limit ?? 1000, { last: input.last, since: input.since }),
    ),

  events: authedProcedure
    .input(wsRef.extend({ lastEventId: z.string().nullish(), follow: z.boolean().optional(), ...eventWindow }))
    .subscription(async function* ({ ctx, input, signal }) {
      const after = input.lastEventId ? Number(input.lastEventId) : 0;
      const abort = signal ?? new AbortController().signal;
      const window = input.lastEventId ? {} : { last: input.last, since: input.since };
      for await (const ev of ctx.service.streamWorkspaceEvents(input.path, Number.isFinite(after) ? after : 0, input.follow ?? true, abort, window)) {
        yield tracked(String(ev.seq), ev);
      }
    }),
});
