// UserError on its own, so modules the fast path loads (event-window.ts) need not load oclif.

/** An error whose message is already what the user should read. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
