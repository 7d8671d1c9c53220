// Detached step processes that survive the daemon, one module per job: proc.ts (what /proc says),
// spawn.ts (starting one in its own group), wait.ts (following it to its exit file),
// process-tree.ts (ending it and its strays). The crash-safe order of recording and spawning is
// functions/step-process.ts's. This barrel keeps one import path for callers.
export { NONCE_ENV, findByNonce, readProcessStartTime, type ProcessHandle } from './proc.js';
export { capperScript, containment, gnuHead, spawnDetached, stepEnv, type SpawnSpec } from './spawn.js';
export { killTree } from './process-tree.js';
export { isAlive, readExitStatus, waitForExit, type WaitOptions, type WaitResult } from './wait.js';
