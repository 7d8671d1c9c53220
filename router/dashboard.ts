// Sign-in for the web dashboard: a bearer-token client gets a one-time code for a browser.
import { TRPCError } from '@trpc/server';
import { authedProcedure, router } from './trpc.js';

export const dashboardRouter = router({
  /** A one-time code; `/?code=...` trades it for a session cookie. Only with the bearer token. */
  signIn: authedProcedure.mutation(({ ctx }) => {
    if (ctx.via !== 'token') {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'sign-in codes are issued to bearer-token clients only (loopctl dashboard)' });
    }
    return ctx.dashboard.issueCode();
  }),
});
