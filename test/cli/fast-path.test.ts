// loopctl's fast path (cli/fast.ts) must print exactly what the oclif commands print, and hand
// over to them, printing nothing, whenever it cannot answer exactly.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseFast, runFast } from '../../cli/fast.js';
import { parseResponse } from '../../cli/fast-http.js';
import { commandFlags, FAKE_AGENT, makeRepo, startTestDaemon, waitForRun, type TestDaemon } from '../integration/harness.js';
import { closedPort, loopctl, requireFreshBuild, runLoopctl } from './helpers.js';

requireFreshBuild();

describe('parseFast', () => {
  it('takes the argument lists it understands completely', () => {
    expect(parseFast(['list'], {})).toEqual({ command: 'list', args: [], flags: {}, json: false });
    expect(parseFast(['list', '--status', 'running,pending', '--status=failed', '--limit=5', '--json'], {})).toEqual({
      command: 'list',
      args: [],
      flags: { status: ['running', 'pending', 'failed'], limit: 5 },
      json: true,
    });
    expect(parseFast(['tail', 'abc', '-n', '20'], {})?.flags).toEqual({ lines: 20 });
    expect(parseFast(['tail', 'abc', '--raw'], {})?.flags).toEqual({ raw: true });
    expect(parseFast(['daemon', 'status'], { LOOPCTL_CONTENT_TYPE: 'JSON' })?.json).toBe(true);
    expect(parseFast(['events', 'r1', '--json'], {})?.args).toEqual(['r1']);
    expect(parseFast(['events', '--workspace'], {})?.flags).toEqual({ workspace: '.' });
    expect(parseFast(['events', '--workspace', '--json'], {})).toMatchObject({ flags: { workspace: '.' }, json: true });
    expect(parseFast(['events', '--workspace', '../app'], {})?.flags).toEqual({ workspace: '../app' });
    expect(parseFast(['events', '--workspace=../app'], {})?.flags).toEqual({ workspace: '../app' });
    // Follow mode: the same stream as the oclif command, over fast-sse.ts.
    expect(parseFast(['tail', 'abc', '-f', '-n', '5', '--raw'], {})?.flags).toEqual({ follow: true, lines: 5, raw: true });
    expect(parseFast(['tail', 'abc', '--follow'], {})?.flags).toEqual({ follow: true });
    expect(parseFast(['events', 'r1', '-f', '-n', 'all'], {})?.flags).toEqual({ follow: true, last: 'all' });
    expect(parseFast(['events', '--workspace', '-f', '--since', '10m'], {})?.flags).toEqual({ workspace: '.', follow: true, since: '10m' });
  });

  it('leaves everything else to oclif', () => {
    for (const argv of [
      [],
      ['run', 'specs/x.md'],
      ['list', '--help'],
      ['list', '-h'],
      ['list', 'extra'],
      ['list', '--limit', '0'],
      ['list', '--limit', 'x'],
      ['list', '--limit', '10001'],
      ['list', '--limit', '1', '--limit', '2'],
      ['list', '--status'],
      ['list', '--bogus'],
      ['list', '--', '--json'],
      ['inspect'],
      ['inspect', 'a', 'b'],
      ['tail', 'a', '-f', '--since', '10m'],
      ['tail', 'a', '-f', '-f'],
      ['tail', 'a', '-n5'],
      ['tail', 'a', '--raw=yes'],
      ['tail', 'a', '--raw', '--raw'],
      ['events', '--all', '-f'],
      ['events', 'a', '-f', '-n'],
      ['events'],
      ['events', 'r1', '--workspace'],
      ['events', '--workspace='],
      ['daemon', 'stop'],
      ['daemon', 'status', 'x'],
    ]) {
      expect(parseFast(argv, {}), argv.join(' ')).toBeNull();
    }
  });
});

describe('parseResponse', () => {
  it('reads content-length and chunked bodies, and refuses what is not HTTP', () => {
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}'))).toEqual({ status: 200, text: '{}' });
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n'))).toEqual({
      status: 200,
      text: '{"a":1}',
    });
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}'))).toBeNull();
    expect(parseResponse(Buffer.from('garbage'))).toBeNull();
  });
});

describe('fast path against a real daemon', () => {
  let d: TestDaemon;
  let env: NodeJS.ProcessEnv;
  let ids: string[] = [];
  const repos: string[] = [];

  beforeAll(async () => {
    d = await startTestDaemon();
    env = { PATH: process.env.PATH, HOME: process.env.HOME, LOOPD_HOME: d.home, LOOPD_ADDR: new URL(d.daemon.url).host, LOOPD_AUTH_TOKEN: d.daemon.token };
    // Created one after the other. The commands compared below read the middle one (output, events,
    // its workspace); the other two only fill the list and its pages, so they are cancelled at once
    // (a CANCELLED row in the tables too) instead of running their agents.
    for (let i = 0; i < 3; i++) {
      const repo = makeRepo({ tasks: 1 });
      repos.push(repo.root);
      const run = await d.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT, { reviewer: false, merge_strategy: 'none' }) });
      if (i !== 1) await d.client.runs.cancel.mutate({ run: run.id });
      ids.push(run.id);
    }
    await Promise.all(ids.map((id) => waitForRun(d.client, id)));
    ids = ids.reverse();
  }, 60_000);
  afterAll(async () => {
    await d?.stop();
  });

  /** What runFast prints in this process, or null when it handed over. */
  async function fast(argv: string[], e = env): Promise<{ stdout: string; stderr: string } | null> {
    let stdout = '';
    let stderr = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
    try {
      return (await runFast(argv, e)) ? { stdout, stderr } : (expect(stdout + stderr).toBe(''), null);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  }

  /** The same command through oclif, in this process (the route bin/loopctl.js takes without its fast path). */
  async function oclif(argv: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
    return loopctl(argv, { env: { ...env, LOOPCTL_NO_FAST_PATH: '1' } });
  }

  // Ages and uptimes move while the test runs; everything else must be byte for byte the same.
  // Ages move on between the two calls, and "9s" -> "10s" also widens the table's padding after them.
  const steady = (s: string) => s.replace(/\b\d+(?:ms|[smhd])\b */g, 'T ').replace(/"uptimeMs": \d+/, '"uptimeMs": 0');

  it.each([
    [['list']],
    [['list', '--json']],
    [['list', '--limit', '2']],
    [['list', '--status', 'completed', '--json']],
    [['inspect', 'IDX']],
    [['inspect', 'IDX', '--json']],
    [['tail', 'IDX', '-n', '3']],
    [['tail', 'IDX', '--json']],
    [['tail', 'IDX', '--raw']],
    [['events', 'IDX']],
    [['events', 'IDX', '--json']],
    [['events', '--workspace', 'REPO']],
    [['events', '--workspace', 'REPO', '--json']],
    [['daemon', 'status']],
    [['daemon', 'status', '--json']],
    // Follow mode on ended runs: the last lines or events, the stream to its end, then exit.
    [['tail', 'IDX', '-f']],
    [['tail', 'IDX', '-f', '-n', '2']],
    [['tail', 'IDX', '-f', '--raw']],
    [['tail', 'IDX', '-f', '--json']],
    [['events', 'IDX', '-f']],
    [['events', 'IDX', '-f', '--json']],
    [['events', 'IDX', '-f', '-n', 'all']],
    [['events', 'IDX', '-n', '3']],
    [['events', 'IDX', '--since', '1h', '--json']],
  ])('%j prints what the oclif command prints', async (template) => {
    const argv = template.map((a) => (a === 'IDX' ? (ids[1] as string) : a === 'REPO' ? repos[1]! : a));
    const f = await fast(argv);
    expect(f, 'the fast path handled it').not.toBeNull();
    const o = await oclif(argv);
    expect(o.code, o.stderr).toBe(0);
    expect(steady(f!.stdout)).toBe(steady(o.stdout));
    expect(f!.stderr).toBe(o.stderr);
  });

  it('bin/loopctl.js prints the same bytes with and without its fast path', async () => {
    // The two real processes, for a table and a stream followed to its end.
    for (const argv of [['list'], ['events', ids[1]!, '-f']]) {
      const [f, o] = await Promise.all([runLoopctl(argv, { env }), runLoopctl(argv, { env: { ...env, LOOPCTL_NO_FAST_PATH: '1' } })]);
      expect(f.code, f.stderr).toBe(0);
      expect(o.code, o.stderr).toBe(0);
      expect(f.stdout).not.toBe('');
      expect(steady(f.stdout)).toBe(steady(o.stdout));
      expect(f.stderr).toBe(o.stderr);
    }
  });

  it('pages with --limit and --cursor, newest first', async () => {
    const first = await fast(['list', '--limit', '2', '--json']);
    const page1 = JSON.parse(first!.stdout) as { id: string }[];
    expect(page1.map((r) => r.id)).toEqual(ids.slice(0, 2));
    const text = await fast(['list', '--limit', '2']);
    expect(text!.stderr).toBe(`more runs may follow: loopctl list --cursor ${ids[1]} --limit 2\n`);
    const second = await fast(['list', '--limit', '2', '--cursor', ids[1] as string, '--json']);
    expect((JSON.parse(second!.stdout) as { id: string }[]).map((r) => r.id)).toEqual(ids.slice(2));
  });

  it('hands over to oclif on an API error or when no daemon answers', async () => {
    expect(await fast(['inspect', 'no-such-run'])).toBeNull();
    expect(await fast(['tail', 'no-such-run', '-f'])).toBeNull();
    expect(await fast(['events', 'no-such-run', '-f'])).toBeNull();
    expect(await fast(['events', ids[0]!, '-f', '-n', 'many'])).toBeNull();
    expect(await fast(['list', '--cursor', 'no-such-run'])).toBeNull();
    expect(await fast(['list'], { ...env, LOOPD_AUTH_TOKEN: 'wrong-token-wrong' })).toBeNull();
    expect(await fast(['list'], { ...env, LOOPD_ADDR: `127.0.0.1:${await closedPort()}` })).toBeNull();
    const o = await oclif(['list', '--cursor', 'no-such-run']);
    expect(o.code).toBe(1);
    expect(o.stderr).toBe('Error: unknown cursor "no-such-run": pass the full id of the last run of the previous page\n');
  });
});
