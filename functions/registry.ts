// Phase name -> handler.
import type { StepPhase } from '../core/types.js';
import { implementation } from './implementation.js';
import { merge } from './merge.js';
import { review } from './review.js';
import type { Handler } from './types.js';
import { verification } from './verification.js';
import { watchdog } from './watchdog.js';

export const handlers: { [P in StepPhase]: Handler<P> } = {
  implementation,
  review,
  verification,
  watchdog,
  merge,
};
