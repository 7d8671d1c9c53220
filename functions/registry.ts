// Phase name -> handler. Phases not built yet are absent, and the dispatcher refuses to claim them.
import type { StepPhase } from '../core/types.js';
import { implementation } from './implementation.js';
import { merge } from './merge.js';
import type { Handler } from './types.js';

export const handlers: Partial<Record<StepPhase, Handler>> = {
  implementation,
  merge,
};
