import { tracked } from '@trpc/server';
import { z } from 'zod';
import { RUN_STATUSES } from '../core/types.js';
import { authedProcedure, router } from './trpc.js';

const createInput = z.object({
  cwd: z.string().min(1),
  spec: z.string().min(1, 'a spec path is required'),
  plan: z.string().min(1).optional(),
  configFile: z.string().min(1).optional(),
  loopConfig: z.string().optional(),
  flags: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  name: z.string().min(1).optional(),
  origin: z.enum(['cli', 'api']).optional(),
});

const runRef = z.object({ run: z.string().min(1, 'a run id, id prefix or name is required') });

/** Start from recent events instead of the first: the last N, those since a time (ms), or both. */
export const eventWindow = {
  last: z.number().int().nonnegative().optional(),
  since: z.number().int().nonnegative().optional(),
};

export const runsRouter = router({
  create: authedProcedure.input(createInput).mutation(({ ctx, input }) => ctx.service.createRun(input)),

  /** The exact prompt the first iteration of such a run would get; creates nothing. */
  prompt: authedProcedure.input(createInput).query(({ ctx, input }) => ctx.service.previewPrompt(input)),

  list: authedProcedure
    .input(
      z
        .object({
          status: z.array(z.enum(RUN_STATUSES)).optional(),
          workspace: z.string().optional(),
          limit: z.number().int().positive().max(10000).optional(),
          cursor: z.string().min(1).optional(),
        })
        .optional(),
    )
    .query(({ ctx, input }) => ctx.service.listRuns(input ?? {})),

  get: authedProcedure.input(runRef).query(({ ctx, input }) => ctx.service.getRun(input.run)),

  cancel: authedProcedure.input(runRef).mutation(({ ctx, input }) => ctx.service.cancelRun(input.run)),

  pause: authedProcedure.input(runRef).mutation(({ ctx, input }) => ctx.service.pauseRun(input.run)),

  resume: authedProcedure
    .input(runRef.extend({ maxCostUsd: z.number().nonnegative().optional() }))
    .mutation(({ ctx, input }) => ctx.service.resumeRun(input.run, { maxCostUsd: input.maxCostUsd })),

  eventsList: authedProcedure
    .input(
      runRef.extend({ afterSeq: z.number().int().nonnegative().optional(), limit: z.number().int().positive().max(10000).optional(), ...eventWindow }),
    )
    .query(({ ctx, input }) =>
      ctx.service.listEvents(input.run, input.afterSeq ?? 0, input.limit ?? 1000, { last: input.last, since: input.since }),
    ),

  tail: authedProcedure
    .input(runRef.extend({ lines: z.number().int().positive().max(100000).optional() }))
    .query(({ ctx, input }) => ctx.service.tail(input.run, input.lines ?? 200)),

  /**
   * Run events; resumable: tRPC passes the last seen event id back as lastEventId. The window
   * (last, since) places the first connection; a reconnect goes on from lastEventId.
   */
  events: authedProcedure
    .input(runRef.extend({ lastEventId: z.string().nullish(), follow: z.boolean().optional(), ...eventWindow }))
    .subscription(async ({ ctx, input, signal }) => {
      // Resolved before the stream opens, so an unknown run is NOT_FOUND like every query says.
      await ctx.service.getRun(input.run);
      const after = input.lastEventId ? Number(input.lastEventId) : 0;
      const abort = signal ?? new AbortController().signal;
      const window = input.lastEventId ? {} : { last: input.last, since: input.since };
      return (async function* () {
        for await (const ev of ctx.service.streamEvents(input.run, Number.isFinite(after) ? after : 0, input.follow ?? true, abort, window)) {
          yield tracked(String(ev.seq), ev);
        }
      })();
    }),

  /** Live agent output; the event id is `<stepId>:<byte offset>` so a reconnect resumes exactly. */
  output: authedProcedure
    .input(runRef.extend({ lastEventId: z.string().nullish(), follow: z.boolean().optional() }))
    .subscription(async ({ ctx, input, signal }) => {
      await ctx.service.getRun(input.run);
      const abort = signal ?? new AbortController().signal;
      return (async function* () {
        for await (const chunk of ctx.service.streamOutput(input.run, input.lastEventId ?? null, input.follow ?? true, abort)) {
          yield tracked(`${chunk.stepId}:${chunk.offset}`, chunk);
        }
      })();
    }),
});
