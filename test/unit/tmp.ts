// Temp dirs removed after each test, and a plain git runner, shared by the unit tests.
import { gitSync } from '../git-sync.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

/** Returns a `tmp()` that makes a real (symlink-free) temp dir, removed after each test. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
    dirs.push(d);
    return d;
  };
}

/** git's stdout; throws when git fails (started by the runner of test/git-sync.ts, not by the worker). */
export function g(cwd: string, ...args: string[]): string {
  return gitSync(cwd, args);
}

const REPO_CONFIG = '[user]\n\tname = Test\n\temail = test@example.com\n[commit]\n\tgpgsign = false\n';

/** `git init` on main in a new dir `root`, with its own identity: no reliance on global config. */
export function initRepo(root: string): string {
  fs.mkdirSync(root);
  g(root, 'init', '-q', '-b', 'main');
  // What three `git config` calls would write, without their three processes.
  fs.appendFileSync(path.join(root, '.git', 'config'), REPO_CONFIG);
  return root;
}
