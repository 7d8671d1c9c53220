// The dispatcher lives in host/dispatch/ (one room per job); this module keeps the import path
// the composition root uses.
export { Dispatcher, summaryExitReason, systemClock, type Clock, type DispatcherOptions } from './dispatch/index.js';
