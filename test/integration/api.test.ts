// The control plane: auth, Host checks, bad input, and resumable SSE streams.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientFor } from '../../cli/client.js';
import type { EventView, OutputChunk, RunView } from '../../router/index.js';
import { commandFlags, FAKE_AGENT, git, makeRepo, tempDir, sqliteDescribe, sqliteIt, startTestDaemon, type TestDaemon, waitForRun } from './harness.js';

let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t.stop();
});

function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: t.daemon.port, path, headers, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

sqliteDescribe('auth and Host checks', () => {
  it('answers /health without a token and reveals nothing', async () => {
    const res = await rawGet('/health', {});
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ ok: true });
  });

  it('rejects requests without or with a wrong token (401)', async () => {
    expect((await rawGet('/trpc/runs.list', {})).status).toBe(401);
    expect((await rawGet('/trpc/runs.list', { authorization: 'Bearer nope' })).status).toBe(401);
    const ok = await rawGet('/trpc/runs.list', { authorization: `Bearer ${t.daemon.token}` });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('rejects a Host header that is not loopback on our port', async () => {
    const auth = { authorization: `Bearer ${t.daemon.token}` };
    expect((await rawGet('/trpc/runs.list', { ...auth, host: 'evil.example:' + t.daemon.port })).status).toBe(403);
    expect((await rawGet('/trpc/runs.list', { ...auth, host: '127.0.0.1:1' })).status).toBe(403);
    expect((await rawGet('/trpc/runs.list', { ...auth, host: `localhost:${t.daemon.port}` })).status).toBe(200);
  });

  it('gives the typed client a clear UNAUTHORIZED error for a wrong token', async () => {
    const bad = createClientFor(t.daemon.url, 'wrong');
    await expect(bad.runs.list.query()).rejects.toThrow(/bearer token/);
  });
});

describe('bad input creates nothing', () => {
  const cases: [string, (root: string, other: string) => Parameters<TestDaemon['client']['runs']['create']['mutate']>[0], RegExp][] = [
    ['missing spec', (root) => ({ cwd: root, spec: 'specs/nope.md', flags: commandFlags(FAKE_AGENT) }), /spec file not found: specs\/nope\.md/],
    ['missing named plan', (root) => ({ cwd: root, spec: 'specs/demo.md', plan: 'plans/nope.md', flags: commandFlags(FAKE_AGENT) }), /plan file not found: plans\/nope\.md/],
    ['spec outside the workspace', (root, other) => ({ cwd: root, spec: join(other, 'outside.md'), flags: commandFlags(FAKE_AGENT) }), /outside the repository .*: spec, plan and context files must live inside it/],
    ['plan outside the workspace', (root, other) => ({ cwd: root, spec: 'specs/demo.md', plan: join(other, 'outside.md'), flags: commandFlags(FAKE_AGENT) }), /outside the repository .*: spec, plan and context files must live inside it/],
    ['not a git repo', (_root, other) => ({ cwd: other, spec: 'outside.md', flags: commandFlags(FAKE_AGENT) }), /not inside a git repository/],
    ['unknown agent', (root) => ({ cwd: root, spec: 'specs/demo.md', flags: { agent: 'gpt-shell' } }), /agent.*claude, codex, command/],
    ['agent=command without agent_cmd', (root) => ({ cwd: root, spec: 'specs/demo.md', flags: { agent: 'command' } }), /agent=command needs agent_cmd/],
    ['claude CLI not on PATH', (root) => ({ cwd: root, spec: 'specs/demo.md', flags: { agent: 'claude', reviewer: false } }), /agent=claude but the "claude" CLI is not on the daemon's PATH/],
    ['codex reviewer not on PATH', (root) => ({ cwd: root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT, { reviewer_agent: 'codex' }) }), /reviewer_agent=codex but the "codex" CLI/],
    ['merge target checked out in the user checkout', (root) => ({ cwd: root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT, { merge_target_branch: 'main' }) }), /merge target "main" is checked out at .*never changes a checkout/],
    ['invalid flag value', (root) => ({ cwd: root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT, { iterations: 'many' }) }), /iterations/],
  ];
  // The daemon sees only git on its PATH, so a claude or codex installed on this machine cannot
  // turn a bad-input case into a real run. Made once, on first use, for every case.
  let onlyGit = '';
  const gitOnlyBin = (): string => {
    if (onlyGit) return onlyGit;
    onlyGit = tempDir();
    symlinkSync(execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim(), join(onlyGit, 'git'));
    return onlyGit;
  };
  for (const [name, input, message] of cases) {
    sqliteIt(name, async () => {
      const repo = makeRepo();
      const other = tempDir();
      writeFileSync(join(other, 'outside.md'), '# outside\n');
      const before = (await t.daemon.store.listRuns()).length;
      const bin = gitOnlyBin();
      const oldPath = process.env.PATH;
      process.env.PATH = bin;
      try {
        await expect(t.client.runs.create.mutate(input(repo.root, other))).rejects.toThrow(message);
      } finally {
        process.env.PATH = oldPath;
      }
      expect(await t.daemon.store.listRuns()).toHaveLength(before);
      expect(git(repo.root, 'branch', '--list', 'run/*')).toBe('');
    });
  }

  it('an invalid .loop/config value names the file, line, key and choices', async () => {
    const repo = makeRepo({ config: '# settings\nmerge_strategy=rebase\n' });
    await expect(t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT) })).rejects.toThrow(
      /\.loop\/config:2: .*merge_strategy.*none, merge, squash/,
    );
  });

  sqliteIt('a --config file that does not exist is a clear error', async () => {
    const repo = makeRepo();
    await expect(t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', configFile: 'nope.conf', flags: commandFlags(FAKE_AGENT) })).rejects.toThrow(
      /nope\.conf.*does not exist/,
    );
  });

  it('an unknown run reference is NOT_FOUND with a hint', async () => {
    await expect(t.client.runs.get.query({ run: 'no-such-run' })).rejects.toThrow(/no run matches "no-such-run"/);
  });
});

describe('config precedence on a real run', () => {
  it('flags > --config > LOOP_CONFIG > .loop/config, frozen on the run', async () => {
    const repo = makeRepo({ tasks: 1, config: 'iterations=11\nmodel=from-workspace\ncompletion_mode=exact\nverify_timeout_sec=7\n' });
    mkdirSync(join(repo.root, 'conf'), { recursive: true });
    writeFileSync(join(repo.root, 'conf', 'env.conf'), 'iterations=12\nmodel=from-env\ncompletion_mode=trailing\n');
    writeFileSync(join(repo.root, 'conf', 'file.conf'), 'iterations=13\nmodel=from-file\n');
    const created = await t.client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      loopConfig: 'conf/env.conf',
      configFile: 'conf/file.conf',
      // The run only has to end before the daemon stops: one task, no review.
      flags: commandFlags(FAKE_AGENT, { iterations: 14, merge_strategy: 'none', reviewer: false }),
    });
    const detail = await t.client.runs.get.query({ run: created.id });
    expect(detail.config).toMatchObject({ iterations: 14, model: 'from-file', completion_mode: 'trailing', verify_timeout_sec: 7, agent: 'command' });
    // The config is frozen at creation, so the run's work is not needed: cancelled, it ends at once.
    await t.client.runs.cancel.mutate({ run: created.id });
    await waitForRun(t.client, created.id);
  });
});

describe('streams', () => {
  // One run for both streams, each subscribed as soon as the run exists, so both follow it live.
  let created: RunView;
  let liveEvents: Promise<EventView[]>;
  let liveOutput: Promise<OutputChunk[]>;

  const collectEvents = (lastEventId: string | null) =>
    new Promise<EventView[]>((resolve, reject) => {
      const got: EventView[] = [];
      const sub = t.client.runs.events.subscribe(
        { run: created.id, lastEventId, follow: true },
        {
          onData: (e) => got.push(e.data),
          onError: reject,
          onComplete: () => resolve(got),
        },
      );
      setTimeout(() => {
        sub.unsubscribe();
        reject(new Error('stream did not complete'));
      }, 20000);
    });
  const collectOutput = (lastEventId: string | null) =>
    new Promise<OutputChunk[]>((resolve, reject) => {
      const got: OutputChunk[] = [];
      t.client.runs.output.subscribe(
        { run: created.id, lastEventId, follow: true },
        { onData: (c) => got.push(c.data), onError: reject, onComplete: () => resolve(got) },
      );
    });

  beforeAll(async () => {
    const repo = makeRepo({ tasks: 2 });
    // Two iterations, so the output stream spans steps; no review and no merge: they would add steps
    // and events, nothing the streams prove here.
    created = await t.client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: commandFlags(`FAKE_SLEEP_MS=100 ${FAKE_AGENT}`, { reviewer: false, merge_strategy: 'none' }),
    });
    liveEvents = collectEvents(null);
    liveOutput = collectOutput(null);
    // Each test awaits its own; a failure is reported there, not as an unhandled rejection.
    liveEvents.catch(() => {});
    liveOutput.catch(() => {});
  });

  it('streams run events and resumes from a last event id without gaps or duplicates', async () => {
    const all = await liveEvents;
    expect(all[0]!.type).toBe('RUN_CREATED');
    expect(all[all.length - 1]!.type).toBe('RUN_COMPLETED');
    const seqs = all.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const mid = all[Math.floor(all.length / 2)]!;
    const rest = await collectEvents(String(mid.seq));
    expect(rest.map((e) => e.seq)).toEqual(seqs.filter((s) => s > mid.seq));
    expect(await t.client.runs.eventsList.query({ run: created.id })).toHaveLength(all.length);
  });

  it('streams live agent output and resumes from a byte offset', async () => {
    const chunks = await liveOutput;
    const text = chunks.map((c) => c.chunk).join('');
    expect(text).toContain('task 1');
    expect(text).toContain('task 2');
    expect(new Set(chunks.map((c) => c.iteration))).toEqual(new Set([1, 2]));
    const first = chunks[0]!;
    const resumed = await collectOutput(`${first.stepId}:${first.offset}`);
    expect(first.chunk + resumed.map((c) => c.chunk).join('')).toBe(text);
    const tail = await t.client.runs.tail.query({ run: created.id, lines: 5 });
    expect(tail?.iteration).toBe(2);
    expect(tail?.text.trim().split('\n').length).toBeLessThanOrEqual(5);
  });
});
