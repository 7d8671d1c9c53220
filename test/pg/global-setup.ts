// Vitest global setup: a real PostgreSQL for the cluster tests. LOOPD_TEST_DATABASE_URL points at
// an existing server (a database the tests may create databases on); otherwise a throwaway cluster
// is started from the machine's binaries by scripts/pg-test-cluster.sh and removed afterwards.
// When neither works the whole run fails: these tests are never skipped.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'pg-test-cluster.sh');

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

/**
 * The cluster of this vitest run, shared by the projects that list this file (pg, integration-pg):
 * one initdb and one server start instead of one per project. Kept on globalThis because each
 * project may load this module on its own; the last project's teardown stops it.
 */
interface Shared {
  url: string;
  users: number;
  stop: () => void;
}
const shared = globalThis as { loopdTestPg?: Shared };

export default function setup(project: TestProject): (() => void) | undefined {
  const given = process.env.LOOPD_TEST_DATABASE_URL;
  if (given) {
    project.provide('pgUrl', given);
    return undefined;
  }
  const running = shared.loopdTestPg ?? (shared.loopdTestPg = { ...startCluster(), users: 0 });
  running.users++;
  project.provide('pgUrl', running.url);
  return () => {
    if (--running.users > 0) return;
    delete shared.loopdTestPg;
    running.stop();
  };
}

function startCluster(): { url: string; stop: () => void } {
  let out: string;
  try {
    out = execFileSync('bash', [script, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(
      `PostgreSQL for the cluster tests could not start: ${String(err.stderr ?? e).trim()}\n` +
        'Install the postgresql package (apt-get install postgresql) or set LOOPD_TEST_DATABASE_URL to a server the tests may create databases on.',
    );
  }
  const url = /^url=(.*)$/m.exec(out)?.[1];
  const dir = /^dir=(.*)$/m.exec(out)?.[1];
  if (!url || !dir) throw new Error(`scripts/pg-test-cluster.sh printed no url/dir: ${out}`);
  return { url, stop: () => execFileSync('bash', [script, 'stop', dir], { stdio: 'ignore' }) };
}
