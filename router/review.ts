// The review API: a finished run's diff and the decisions on its work. Merged into `runs`.
import { tracked } from '@trpc/server';
import { z } from 'zod';
import { authedProcedure, router, type Context } from './trpc.js';

const runRef = z.object({ run: z.string().min(1, 'a run id, id prefix or name is required') });
const actor = z.string().trim().min(1).max(200).optional();

/** Who decided, as recorded: what the client says, else how it signed in. */
function actorOf(ctx: Context, given: string | undefined): string {
  if (given) return given;
  return ctx.via === 'session' ? 'dashboard' : 'api';
}

export const reviewRouter = router({
  /** The run's aggregate diff against where it branched off (or one iteration's), per file with stats. */
  diff: authedProcedure
    .input(runRef.extend({ iteration: z.number().int().positive().optional() }))
    .query(({ ctx, input }) => ctx.review.diff(input.run, { iteration: input.iteration })),

  /** Merge (or squash) a finished run into its merge target or base branch; plumbing only. */
  merge: authedProcedure
    .input(
      runRef.extend({
        into: z.enum(['target', 'base']).optional(),
        target: z.string().trim().min(1).optional(),
        strategy: z.enum(['merge', 'squash']).optional(),
        actor,
      }),
    )
    .mutation(({ ctx, input }) =>
      ctx.review.merge(input.run, { actor: actorOf(ctx, input.actor), into: input.into, target: input.target, strategy: input.strategy }),
    ),

  /** Delete a finished run's branch and worktree; the run's record, events and logs stay. */
  scrap: authedProcedure
    .input(runRef.extend({ actor }))
    .mutation(({ ctx, input }) => ctx.review.scrap(input.run, { actor: actorOf(ctx, input.actor) })),

  /** Push the run branch and open a pull request with the GitHub CLI. */
  createPr: authedProcedure
    .input(
      runRef.extend({
        remote: z.string().trim().min(1).optional(),
        into: z.enum(['base', 'target']).optional(),
        title: z.string().trim().min(1).max(300).optional(),
        draft: z.boolean().optional(),
        actor,
      }),
    )
    .mutation(({ ctx, input }) =>
      ctx.review.createPr(input.run, { actor: actorOf(ctx, input.actor), remote: input.remote, into: input.into, title: input.title, draft: input.draft }),
    ),

  /** Every event of every run and workspace, resumable by sequence number: the dashboard's live feed. */
  feed: authedProcedure.input(z.object({ lastEventId: z.string().nullish() }).optional()).subscription(async function* ({ ctx, input, signal }) {
    const after = input?.lastEventId ? Number(input.lastEventId) : await ctx.service.lastEventSeq();
    const abort = signal ?? new AbortController().signal;
    for await (const ev of ctx.service.streamAllEvents(Number.isFinite(after) ? after : 0, abort)) {
      yield tracked(String(ev.seq), ev);
    }
  }),
});
