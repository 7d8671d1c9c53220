// The API's edge through raw HTTP: error shape, plain JSON input, size and batch limits, the same
// codes for subscriptions, and inputs refused at creation rather than after the paid work.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCH_SIZE, MAX_BODY_BYTES } from '../../router/limits.js';
import { FAKE_AGENT, commandFlags, git, makeRepo, startTestDaemon, type TestDaemon } from './harness.js';

let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t.stop();
});

interface Reply {
  status: number;
  body: string;
}

function raw(method: 'GET' | 'POST', path: string, opts: { token?: boolean; body?: string | Buffer; chunked?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.token !== false) headers.authorization = `Bearer ${t.daemon.token}`;
    if (opts.chunked) headers['transfer-encoding'] = 'chunked';
    const req = request({ host: '127.0.0.1', port: t.daemon.port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // The server may answer (413) before the whole body is sent and close the connection.
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

const q = (proc: string, input: unknown) => `/trpc/${proc}?input=${encodeURIComponent(JSON.stringify(input))}`;

/** The error of a single (non-batch) call: code and message, tRPC's code name and status, nothing else. */
function errorOf(r: Reply): { code: number; message: string; data: { code: string; httpStatus: number } } {
  const parsed = JSON.parse(r.body) as { error: { json: { code: number; message: string; data: { code: string; httpStatus: number } } } };
  const err = parsed.error.json;
  expect(Object.keys(err).sort()).toEqual(['code', 'data', 'message']);
  expect(Object.keys(err.data).sort()).toEqual(['code', 'httpStatus']);
  expect(r.body).not.toMatch(/stack|file:\/\/|node_modules|at \w+ \(/);
  expect(err.message).not.toContain('\n');
  return err;
}

describe('errors carry code and message only', () => {
  it('401 without a token', async () => {
    const r = await raw('GET', '/trpc/runs.list', { token: false });
    expect(r.status).toBe(401);
    expect(errorOf(r)).toMatchObject({ message: expect.stringMatching(/bearer token/), data: { code: 'UNAUTHORIZED', httpStatus: 401 } });
  });

  it('404 for an unknown run, 400 for bad input as one line', async () => {
    const nf = await raw('GET', q('runs.get', { json: { run: 'nope' } }));
    expect(nf.status).toBe(404);
    expect(errorOf(nf).data.code).toBe('NOT_FOUND');
    const bad = await raw('GET', q('runs.list', { json: { limit: -1 } }));
    expect(bad.status).toBe(400);
    expect(errorOf(bad).message).toMatch(/^limit: /);
  });
});

describe('plain JSON input', () => {
  it('is read as the input, for queries and mutations', async () => {
    // Ignored input would list every run (200); read input fails validation.
    const bad = await raw('GET', q('runs.list', { limit: 0 }));
    expect(bad.status).toBe(400);
    expect(errorOf(bad).message).toMatch(/^limit: /);
    const nf = await raw('GET', q('runs.get', { run: 'nope' }));
    expect(errorOf(nf).message).toMatch(/no run matches "nope"/);
    const cancel = await raw('POST', '/trpc/runs.cancel', { body: JSON.stringify({ run: 'nope' }) });
    expect(cancel.status).toBe(404);
    const ok = await raw('GET', q('runs.list', { limit: 1 }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ result: { data: { json: expect.any(Array) } } });
  });

  it('filters a real list: limit 1 of two runs', async () => {
    const repo = makeRepo({ tasks: 1 });
    for (const name of ['plain-a', 'plain-b']) {
      const run = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name, flags: commandFlags(FAKE_AGENT, { merge_strategy: 'none', reviewer: false }) });
      // Only their rows matter here: cancelled at once, they spare the agent call and what follows.
      await t.client.runs.cancel.mutate({ run: run.id });
    }
    const r = await raw('GET', q('runs.list', { limit: 1, workspace: repo.root }));
    const runs = (JSON.parse(r.body) as { result: { data: { json: { name: string }[] } } }).result.data.json;
    expect(runs.map((x) => x.name)).toEqual(['plain-b']);
  });
});

describe('limits', () => {
  it(`answers 413 to a body over ${MAX_BODY_BYTES} bytes, sized or chunked`, async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1024, 'a');
    for (const chunked of [false, true]) {
      const r = await raw('POST', '/trpc/runs.create', { body: big, chunked });
      expect(r.status).toBe(413);
      expect(errorOf(r)).toMatchObject({ message: `request body too large: loopd reads at most ${MAX_BODY_BYTES} bytes`, data: { code: 'PAYLOAD_TOO_LARGE' } });
    }
  });

  it(`answers 400 to a batch of more than ${MAX_BATCH_SIZE} calls`, async () => {
    const batch = (n: number) => `/trpc/${Array(n).fill('daemon.status').join(',')}?batch=1`;
    const ok = await raw('GET', batch(MAX_BATCH_SIZE));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toHaveLength(MAX_BATCH_SIZE);
    const over = await raw('GET', batch(MAX_BATCH_SIZE + 1));
    expect(over.status).toBe(400);
    expect(over.body).toMatch(/too many calls in one batch: at most 32/);
    expect(over.body).not.toMatch(/stack/);
  });
});

describe('subscriptions', () => {
  it('an unknown run is NOT_FOUND on the stream, like the query, without a stack', async () => {
    for (const proc of ['runs.events', 'runs.output']) {
      const r = await raw('GET', q(proc, { run: 'nope' }));
      expect(r.body).toMatch(/event: serialized-error/);
      const data = /event: serialized-error\ndata: (.*)\n/.exec(r.body)![1]!;
      expect(JSON.parse(data)).toEqual({ json: { code: -32004, message: expect.stringMatching(/no run matches "nope"/), data: { code: 'NOT_FOUND', httpStatus: 404 } } });
    }
  });

  it('the typed client sees NOT_FOUND too', async () => {
    const err = await new Promise<{ data?: { code?: string } }>((resolve) => {
      const sub = t.client.runs.events.subscribe({ run: 'nope' }, { onData: () => {}, onError: (e) => (sub.unsubscribe(), resolve(e as { data?: { code?: string } })) });
    });
    expect(err.data?.code).toBe('NOT_FOUND');
  });
});

describe('refused at creation', () => {
  const refs: [string, Record<string, string>, RegExp][] = [
    ['merge target ../../x', { merge_target_branch: '../../x' }, /^invalid merge_target_branch "\.\.\/\.\.\/x": /],
    ['merge target refs/heads/../x', { merge_target_branch: 'refs/heads/../x' }, /^invalid merge_target_branch/],
    ['merge target a..b', { merge_target_branch: 'a..b' }, /contains "\.\."/],
    ['merge target x.lock', { merge_target_branch: 'x.lock' }, /ends with "\.lock"/],
    ['merge target -x', { merge_target_branch: '-x' }, /starts with "-"/],
    ['base branch a..b', { base_branch: 'a..b' }, /^invalid base_branch "a\.\.b"/],
    ['branch prefix -run/', { run_branch_prefix: '-run/' }, /^invalid run_branch_prefix "-run\/"/],
  ];
  for (const [what, flags, message] of refs) {
    it(what, async () => {
      const repo = makeRepo({ tasks: 1 });
      const before = (await t.daemon.store.listRuns()).length;
      const r = await raw('POST', '/trpc/runs.create', { body: JSON.stringify({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT, flags) }) });
      expect(r.status).toBe(400);
      expect(errorOf(r).message).toMatch(message);
      expect(await t.daemon.store.listRuns()).toHaveLength(before);
      expect(git(repo.root, 'branch', '--list')).toBe('* main');
    });
  }

  for (const name of ['two\nlines', '\u001b[31mred\u001b[0m', 'bell\u0007', 'c1\u009b']) {
    it(`a run name with control characters: ${JSON.stringify(name)}`, async () => {
      const repo = makeRepo({ tasks: 1 });
      const r = await raw('POST', '/trpc/runs.create', { body: JSON.stringify({ cwd: repo.root, spec: 'specs/demo.md', name, flags: commandFlags(FAKE_AGENT) }) });
      expect(r.status).toBe(400);
      expect(errorOf(r).message).toMatch(/^run name ".*" contains control characters .*: use plain text$/);
    });
  }
});
