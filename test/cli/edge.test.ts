// Bad names refused by `loopctl run` before anything is created, as one-line errors, against an
// in-process daemon (the commands run in this process by bin/loopctl.js's route).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../integration/harness.js';
import { loopctl as runLoopctl, repoRoot, requireFreshBuild } from './helpers.js';

requireFreshBuild();
let env: NodeJS.ProcessEnv = {};
let repo = '';
let t: TestDaemon | undefined;

beforeAll(async () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'loopd-edge-')));
  repo = join(base, 'repo');
  mkdirSync(join(repo, 'specs', 'planning'), { recursive: true });
  writeFileSync(join(repo, 'specs', 'x.md'), '# x\n');
  writeFileSync(join(repo, 'specs', 'planning', 'x-plan.md'), '- [ ] a\n');
  const git = (...a: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { cwd: repo, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'init');
  t = await startTestDaemon();
  env = { PATH: process.env.PATH, HOME: base, LOOPD_HOME: t.home, LOOPD_ADDR: new URL(t.daemon.url).host, LOOPD_AUTH_TOKEN: t.daemon.token };
});

afterAll(async () => {
  await t?.stop();
});

const agent = ['--agent', 'command', '--agent-cmd', `node ${join(repoRoot, 'test', 'fixtures', 'fake-agent.mjs')}`];

describe('loopctl run refuses bad names at creation', () => {
  const cases: [string, string[], RegExp][] = [
    ['a merge target with ..', ['--merge-target', '../../x'], /^Error: invalid merge_target_branch "\.\.\/\.\.\/x": it contains "\.\."; use a git branch name/],
    ['a merge target with a leading dash', ['--merge-target=-x'], /^Error: invalid merge_target_branch "-x": it starts with "-"/],
    ['a merge target ending in .lock', ['--merge-target', 'x.lock'], /ends with "\.lock"/],
    ['a base branch with @{', ['--base-branch', 'main@{1}'], /^Error: invalid base_branch "main@\{1\}": it contains "@\{"/],
    ['a branch prefix with a space', ['--set', 'run_branch_prefix=my runs/'], /^Error: invalid run_branch_prefix "my runs\/": it contains a space/],
    ['a name with a newline', ['--name', 'two\nlines'], /^Error: run name "two\\nlines" contains control characters .*: use plain text/],
    ['a name with an ANSI escape', ['--name', '\u001b[31mred'], /^Error: run name "\\u001b\[31mred" contains control characters/],
  ];
  for (const [what, flags, message] of cases) {
    it(what, async () => {
      const r = await runLoopctl(['run', 'specs/x.md', ...agent, ...flags], { env, cwd: repo });
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    });
  }

  it('created nothing', async () => {
    const list = await runLoopctl(['list', '--json'], { env, cwd: repo });
    expect(JSON.parse(list.stdout)).toEqual([]);
    expect(execFileSync('git', ['branch', '--list'], { cwd: repo, encoding: 'utf8' }).trim()).toBe('* main');
  });
});
