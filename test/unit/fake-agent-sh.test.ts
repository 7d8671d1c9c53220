// fake-agent.sh is fake-agent.mjs without the Node start-up: integration tests take it wherever the
// agent's language does not matter. Both agents get the same calls in identical repos and must leave
// the same facts: output lines, exit codes, files, plan, spec, commits and per-run counters.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { copyRepo } from '../repo-copy.js';
import { gitSync } from '../git-sync.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const AGENTS = {
  mjs: [process.execPath, path.join(FIXTURES, 'fake-agent.mjs')],
  sh: ['/bin/sh', path.join(FIXTURES, 'fake-agent.sh')],
} as const;
type Kind = keyof typeof AGENTS;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function g(cwd: string, ...args: string[]): string {
  return gitSync(cwd, ['-c', 'user.name=t', '-c', 'user.email=t@localhost', ...args]);
}

// Loopd's plan rules at their edges: done, `[ ]?`, fenced code, a checklist heading that ends, a
// numbered task with extra spaces, a heading that only looks like one.
const PLAN = [
  '# Plan',
  '',
  '## Tasks',
  '- [x] already done',
  '- [ ] first thing',
  '- [ ]? manual check',
  '```md',
  '- [ ] in a fence',
  '```',
  '* [ ] second thing',
  '1. [ ]   third  ',
  '#######  not a heading',
  '',
  '## Manual QA',
  '- [ ] click around',
  '### Verification steps',
  '- [ ] run it',
  '## More',
  '+ [ ] fourth',
  '',
].join('\n');

interface Repo {
  root: string;
  runDir: string;
  planPath: string;
  specPath: string;
}

// The repo both agents start from, committed once per file and copied for each call sequence.
let template: string | undefined;

function makeRepo(): Repo {
  if (!template) {
    template = path.join(fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-fakesh-template-'))), 'repo');
    dirs.push(path.dirname(template));
    fs.mkdirSync(path.join(template, 'specs', 'planning'), { recursive: true });
    fs.writeFileSync(path.join(template, 'specs', 'planning', 'x-plan.md'), PLAN);
    fs.writeFileSync(path.join(template, 'specs', 'x.md'), '# x\n\nBuild x.\n');
    fs.writeFileSync(path.join(template, '.gitignore'), 'run/\n');
    g(template, 'init', '-q', '-b', 'main');
    g(template, 'add', '-A');
    g(template, 'commit', '-q', '-m', 'init');
  }
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-fakesh-')));
  dirs.push(base);
  const root = path.join(base, 'repo');
  copyRepo(template, root);
  const planPath = path.join(root, 'specs', 'planning', 'x-plan.md');
  const specPath = path.join(root, 'specs', 'x.md');
  const runDir = path.join(root, 'run');
  fs.mkdirSync(runDir);
  return { root, runDir, planPath, specPath };
}

interface Call {
  env?: Record<string, string>;
  prompt?: string;
  phase?: string;
}

/** Runs `calls` in a fresh repo with one agent; returns what a test could observe, pids and hashes masked. */
function observe(kind: Kind, calls: Call[]) {
  const repo = makeRepo();
  const out = calls.map((c, i) => {
    const [cmd, ...args] = AGENTS[kind];
    const r = spawnSync(cmd, args, {
      cwd: repo.root,
      input: c.prompt ?? 'the prompt\n',
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        LOOP_PLAN_PATH: repo.planPath,
        LOOP_SPEC_PATH: repo.specPath,
        LOOP_RUN_DIR: repo.runDir,
        LOOP_RUN_ID: 'run-1',
        LOOP_ITERATION: String(i + 1),
        LOOP_PHASE: c.phase ?? 'implementation',
        ...c.env,
      },
    });
    const stdout = r.stdout.replace(/(pid|committed|to) [0-9a-f]+/g, '$1 N').replace(/reached\|\d+/, 'reached|T');
    return { code: r.status, stdout };
  });
  const files = g(repo.root, 'ls-files').trim().split('\n');
  const read = (f: string) => fs.readFileSync(path.join(repo.root, f), 'utf8');
  const counters = fs.readdirSync(repo.runDir).filter((f) => f.startsWith('.fake-') && f !== '.fake-ledger');
  const facts = {
    out,
    files: Object.fromEntries(files.map((f) => [f, read(f)])),
    untracked: g(repo.root, 'status', '--porcelain'),
    log: g(repo.root, 'log', '--format=%s%n%an').trim(),
    ledger: fs.readFileSync(path.join(repo.runDir, '.fake-ledger'), 'utf8').replace(/ \d+$/gm, ' N'),
    counters: Object.fromEntries(counters.map((f) => [f, fs.readFileSync(path.join(repo.runDir, f), 'utf8')])),
    escapedCount: fs.existsSync(path.join(repo.runDir, '.escaped-pids')) ? fs.readFileSync(path.join(repo.runDir, '.escaped-pids'), 'utf8').trim().split('\n').length : 0,
  };
  const pidsFile = path.join(repo.runDir, '.escaped-pids');
  const escaped = fs.existsSync(pidsFile) ? fs.readFileSync(pidsFile, 'utf8').trim().split('\n').map(Number) : [];
  return { facts, escaped };
}

/** The facts of both agents, compared; the pids each left behind (setsid-escaper), for the caller to check and kill. */
function same(calls: Call[]) {
  const mjs = observe('mjs', calls);
  const sh = observe('sh', calls);
  expect(sh.facts).toEqual(mjs.facts);
  return { ...sh.facts, escaped: [...mjs.escaped, ...sh.escaped] };
}

describe('fake-agent.sh does what fake-agent.mjs does', () => {
  it('works the plan one task at a time, with FAKE_EXIT_CODE, FAKE_FALSE_COMPLETE, FAKE_FILE, FAKE_SELF_REVIEW and FAKE_NO_TOKEN', () => {
    const r = same([
      {},
      { env: { FAKE_EXIT_CODE: '3' } },
      { env: { FAKE_FALSE_COMPLETE: '1', FAKE_FILE: 'sub/same.txt' } },
      { env: { FAKE_SELF_REVIEW: '1' } },
      { env: { FAKE_NO_TOKEN: '1' } },
      { env: { FAKE_NO_TOKEN: '1' } },
      {},
    ]);
    expect(r.out.map((o) => o.code)).toEqual([0, 3, 0, 0, 0, 0, 0]);
    expect(r.files['specs/planning/x-plan.md']).toContain('- [x] first thing\n- [ ]? manual check');
    expect(r.files['specs/planning/x-plan.md']).toContain('+ [x] fourth');
    expect(r.out[6]!.stdout).toContain('<promise>COMPLETE</promise>');
  });

  it.each(['tick-all', 'delete-tasks', 'cut-spec'])('persona %s', (persona) => {
    same([{ env: { FAKE_PERSONA: persona } }]);
  });

  it('the liar, the env-reader (with and without a LOOPD_* variable) and the history-rewriter', () => {
    const r = same([
      { env: { FAKE_PERSONA: 'liar' } },
      { env: { FAKE_PERSONA: 'env-reader', LOOPD_SECRET: 'x' } },
      { env: { FAKE_PERSONA: 'history-rewriter' } },
      { env: { FAKE_PERSONA: 'env-reader' } },
    ]);
    expect(r.out[1]!.code).toBe(3);
  });

  it('reviews, names, transient errors, rate limits and being stuck', () => {
    same([
      { phase: 'review', env: { FAKE_REVIEW: 'reject-once' } },
      { phase: 'review', env: { FAKE_REVIEW: 'reject-once' } },
      { phase: 'review', env: { FAKE_REVIEW: 'reject' } },
      { phase: 'review', env: { FAKE_REVIEW_EXIT: '2' } },
      { phase: 'naming' },
      { phase: 'naming', env: { FAKE_NAME_EXIT: '4' } },
      { env: { FAKE_TRANSIENT: '1' } },
      { env: { FAKE_TRANSIENT: '1' } },
      { env: { FAKE_RATE_LIMIT_MS: '5000' } },
      { env: { FAKE_STUCK: 'always' } },
      { env: { FAKE_STUCK: '1' } },
      { env: { FAKE_STUCK: '1' }, prompt: 'You are going in circles.\n' },
      { env: { FAKE_STUCK: '1' } },
    ]);
  });

  it('the setsid-escaper leaves a process in its own session and records its pid', () => {
    const r = same([{ env: { FAKE_PERSONA: 'setsid-escaper' } }]);
    expect(r.escapedCount).toBe(1);
    expect(r.escaped).toHaveLength(2);
    for (const pid of r.escaped) {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      expect(Number(fields[3]), 'a session of its own').toBe(pid);
      process.kill(pid, 'SIGKILL');
    }
  });
});
