// Shared bits of the review commands (diff, merge, scrap, pr).
import { userInfo } from 'node:os';
import type { ReviewActionResult } from '../router/index.js';

/** Recorded as who decided: "loopctl (alice)". */
export function cliActor(): string {
  let user = process.env.USER ?? '';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): the environment's USER, or nothing.
  }
  return user ? `loopctl (${user})` : 'loopctl';
}

export function actionLine(r: ReviewActionResult): string {
  return r.changed ? r.message : `nothing to do: ${r.message}`;
}
