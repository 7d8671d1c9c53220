import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { rank, runOrder } from './test/run-order.js';

// The real-CLI contract tests are opt-in: npm run test:agents (test/agents/vitest.config.ts).
const exclude = ['test/agents/**', 'node_modules/**', 'dist/**'];

// Integration files that also run on the PostgreSQL backend (project pg): the paths
// whose state lives in the store, chosen so each covers something the others do not. loop.test.ts
// stays SQLite-only to keep the CPU cost down: its agent, watchdog and verification rules do not
// depend on the store, and runs.test.ts drives the loop to its merge on both backends.
const PG_INTEGRATION = [
  'test/integration/output-restart.test.ts',
  'test/integration/review.test.ts',
  'test/integration/runs.test.ts',
  'test/integration/api.test.ts',
  'test/integration/truth.test.ts',
];

// Files that never run side by side (test/exclusive-files.ts holds a lock around each; the run order
// puts them far apart): the two multi-host kill tests each run three hosts with their agents and
// kill them on a schedule read from the agents' ledger; side by side they starve each other's hosts
// of CPU past their lease TTLs.
const EXCLUSIVE = ['test/pg/loopd-cluster.test.ts', 'test/pg/multi-host-kill.test.ts'];

/** The long files first across all projects, then the rest project by project, the exclusive files far apart: see test/run-order.ts. */
class RunOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ranked = await Promise.all(
      files.map(async (spec) => {
        const cached = this.ctx.cache.getTestSpecificationResult(spec);
        // The size stands in for the duration of a file that never ran (a fresh clone has no record).
        const size = cached ? 0 : await stat(spec.moduleId).then((s) => s.size, () => 0);
        return rank(spec, this.ctx.config.root, EXCLUSIVE, cached, size);
      }),
    );
    return runOrder(ranked, this.ctx.config.maxWorkers);
  }
}

// Every project's files share worker processes (isolate: false): a worker runs file after file and
// loads the sources once, instead of a fresh process, vitest runtime and module graph per file
// (~0.5 s of CPU each; the run order keeps a project's files together so the workers are reused).
// So each file leaves the process as it found it: test/shared-worker-guard.ts checks that after
// every file and fails the one that did not (docs/testing.md lists what a file must restore).
const GUARD = 'test/shared-worker-guard.ts';
// Before the guard, which then finds it done.
const SETUP = ['test/compile-cache.ts', GUARD];

// Names this run for the lock of test/exclusive-files.ts; the workers inherit it.
process.env.LOOPD_TEST_RUN ??= String(process.pid);

// Every temp file of the run (the tests', and their daemons', agents' and git's) goes under one
// directory that is removed when vitest exits, pass or fail: a run used to leave ~400 directories
// in /tmp, and tens of thousands of entries there slowed every later mkdtemp, test and bench
// measurably (the bench's overhead per agent call read 36-47 ms with ~50,000 leftovers, 25-29 ms
// without). The compile cache and the PostgreSQL cluster (whose initdb cache is meant to outlive
// the run, and whose `postgres` user cannot enter a 0700 directory of root's) stay in the real one.
//
// That directory is in memory (/dev/shm) where the machine has a tmpfs there: the suite creates
// and removes hundreds of repos, databases and logs, and on a disk file system most of that is
// kernel time (ext4 looking for a free inode past the recently deleted ones, journaling). Init,
// commit, copy and remove of 40 repos: 1.1 s of CPU in /tmp on ext4, 0.42 s in /dev/shm.
// LOOPD_TEST_TMPFS=0 keeps it in the real temp directory.
const TMPFS_MAGIC = 0x01021994;
// A whole run peaked at ~420 MB there; a container's default /dev/shm (64 MB) is too small.
const TMPFS_MIN_FREE = 2 * 1024 ** 3;
function runTmpParent(stable: string): string {
  if (process.env.LOOPD_TEST_TMPFS === '0') return stable;
  try {
    const fs = statfsSync('/dev/shm');
    if (fs.type !== TMPFS_MAGIC || fs.bavail * fs.bsize < TMPFS_MIN_FREE) return stable;
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return stable;
  }
}

if (process.env.LOOPD_TEST_STABLE_TMPDIR === undefined) {
  const stable = tmpdir();
  process.env.LOOPD_TEST_STABLE_TMPDIR = stable;
  process.env.NODE_COMPILE_CACHE ??= join(stable, 'node-compile-cache');
  const parent = runTmpParent(stable);
  // The PostgreSQL cluster's own directory too (scripts/pg-test-cluster.sh; its initdb cache stays).
  process.env.LOOPD_TEST_CLUSTER_TMPDIR ??= parent;
  const runTmp = mkdtempSync(join(parent, 'loopd-test-run-'));
  process.env.TMPDIR = runTmp;
  // The tests' `git init`s (hundreds of repos a run, and the template repos copied for most
  // integration tests) copy no sample hooks, description or info/exclude: ~60 % fewer files to
  // write, copy and remove per repo. Samples are inactive, so no git behaviour changes.
  const noGitTemplate = join(runTmp, 'git-template');
  mkdirSync(noGitTemplate);
  process.env.GIT_TEMPLATE_DIR = noGitTemplate;
  process.on('exit', () => rmSync(runTmp, { recursive: true, force: true }));
}

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Four files at a time on two cores: most files wait on child processes (agents, git, daemons)
    // and timers rather than burn CPU, so two workers left a core idle much of the time. Measured on
    // an idle 2-core machine, whole suite with coverage (`npx vitest run --coverage --maxWorkers=N`):
    // 2 -> 102 s, 3 -> 88 s, 4 -> 83 s, 6 -> 81 s wall, the same ~130 s of CPU each.
    maxWorkers: 4,
    // The long files first across all projects, then the rest project by project, the kill tests
    // far apart (test/run-order.ts).
    sequence: { sequencer: RunOrder },
    projects: [
      // Everything that needs no PostgreSQL, unit and system tests alike, in one project: vitest
      // never hands a worker to another project, so with `unit` and `system` apart a fresh clone's
      // run started 32 worker processes (each loads vitest, the setup files and the sources'
      // modules again) and 21 with them together; 107-112 -> 94-98 s of CPU, 64-65 -> 56-58 s wall
      // for the whole npm test (fresh clones, idle machine, two alternating runs each).
      {
        test: {
          name: 'local',
          include: ['test/**/*.test.ts'],
          exclude: [...exclude, 'test/pg/**'],
          isolate: false,
          setupFiles: SETUP,
        },
      },
      {
        test: {
          name: 'pg',
          // The cluster layer's own tests, and the integration paths whose state lives in the store
          // once more on PostgreSQL (runs to their merge, adoption after a restart, review and
          // merge, the API and the truth snapshots): the harness gives each of their daemons a fresh
          // database on the throwaway cluster (test/integration/harness.ts reads
          // LOOPD_TEST_BACKEND when it loads; test/pg/ does not use it). One project, so one set
          // of workers for both: they were two until the work of issue 9.
          include: ['test/pg/**/*.test.ts', ...PG_INTEGRATION],
          exclude,
          env: { LOOPD_TEST_BACKEND: 'postgres' },
          // A throwaway PostgreSQL, started once, and only when one of these files runs.
          globalSetup: ['test/pg/global-setup.ts'],
          // These files share the workers with each other (a project with one worker would run
          // alone after all the others), except that the kill tests never run side by side.
          isolate: false,
          setupFiles: [...SETUP, 'test/exclusive-files.ts'],
          provide: { exclusiveFiles: EXCLUSIVE },
        },
      },
    ],
    coverage: {
      // On with --coverage (npm test): a summary in the output, and a failed run when a figure
      // drops below its threshold. Only code that runs inside the test processes counts; daemons and
      // CLIs spawned from dist/ are exercised but not measured.
      provider: 'v8',
      include: ['cli/**/*.ts', 'core/**/*.ts', 'functions/**/*.ts', 'host/**/*.ts', 'router/**/*.ts', 'triggers/**/*.ts'],
      exclude: ['**/*.d.ts'],
      reporter: ['text-summary'],
      // The figures also when a test failed: CI output always says where coverage stands.
      reportOnFailure: true,
      // Just below the figures of the runs that set them (88.7 / 78.2 / 90.5 / 91.3 %: they rose when
      // the CLI tests began running commands in the test process, and again when the daemon
      // commands did), with room for the few branches that depend on timing; raise them when
      // coverage rises.
      thresholds: { statements: 88, branches: 77.5, functions: 89.5, lines: 90.5 },
    },
  },
});
