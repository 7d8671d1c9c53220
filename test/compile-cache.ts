// A vitest setup file of every project: the processes the tests start from dist/ (daemons, loopctl,
// the cluster fixtures, the spawner) keep Node's module compile cache, which bin/launcher.js turns
// on for them as for any user. With v8 coverage on, vitest sets NODE_DISABLE_COMPILE_CACHE=1 in its
// workers' environment, for them and every process they start: a compile-cached script lacks the
// source positions that precise coverage needs. Coverage only measures code run inside the workers
// (vitest.config.ts), never a spawned process, so for those the setting only costs start-up CPU,
// compiling the same code again in every process: ~35 ms of the ~130 ms a daemon spends loading its
// bundle, ~20 ms per loopctl process on the oclif route.
// The workers themselves load the sources through vitest's module runner, which the cache does not
// touch, and they started with the variable set, so this changes nothing in them.
delete process.env.NODE_DISABLE_COMPILE_CACHE;
