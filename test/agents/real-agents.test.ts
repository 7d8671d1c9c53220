// Agent contract tests: the real Claude Code and Codex CLIs (pinned, installed by install.mjs)
// against the scripted local API (fake-api.mjs), through whole loopd runs. Every scenario's
// iteration log is saved under test/fixtures/transcripts with what it must be read as, so that
// `npm test` checks the parsers, the error table and the renderer against real CLI output.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientFor, type LoopClient } from '../../cli/client.js';
import { startDaemon, type DaemonHandle } from '../../host/main.js';
import type { RunView } from '../../router/index.js';
import { makeRepo, tempDir, waitFor, waitForRun } from '../integration/harness.js';
import { startFakeApi, type FakeApi } from './fake-api.mjs';
import type { TranscriptExpectation } from './transcripts.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CACHE = process.env.LOOPD_AGENT_CACHE ? resolve(process.env.LOOPD_AGENT_CACHE) : join(ROOT, '.cache', 'agent-clis');
const TRANSCRIPTS = join(ROOT, 'test', 'fixtures', 'transcripts');
const CLOSED_PORT_URL = 'http://127.0.0.1:9';

const manifest: TranscriptExpectation[] = [];
let api: FakeApi;
let base: string;
let home: string;
let daemon: DaemonHandle;
let client: LoopClient;

function setAgentEnv(anthropicUrl: string, openaiUrl: string, codexRetries = 0): void {
  const agentHome = join(base, 'agent-home');
  const codexHome = join(base, 'codex-home');
  mkdirSync(agentHome, { recursive: true });
  mkdirSync(codexHome, { recursive: true });
  writeFileSync(
    join(codexHome, 'config.toml'),
    [
      'model = "gpt-5.1-codex"',
      'model_provider = "fake"',
      '[model_providers.fake]',
      'name = "fake"',
      `base_url = "${openaiUrl}/v1"`,
      'wire_api = "responses"',
      'env_key = "FAKE_OPENAI_KEY"',
      // Codex's built-in provider cannot be told; a custom provider can (docs/agents.md).
      `request_max_retries = ${codexRetries}`,
      `stream_max_retries = ${codexRetries}`,
      '',
    ].join('\n'),
  );
  Object.assign(process.env, {
    PATH: `${join(CACHE, 'node_modules', '.bin')}:${(process.env.PATH ?? '').replace(`${join(CACHE, 'node_modules', '.bin')}:`, '')}`,
    HOME: agentHome,
    CODEX_HOME: codexHome,
    ANTHROPIC_BASE_URL: anthropicUrl,
    ANTHROPIC_API_KEY: 'sk-ant-fake',
    FAKE_OPENAI_KEY: 'sk-fake',
    IS_SANDBOX: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    GIT_AUTHOR_NAME: 'agent',
    GIT_AUTHOR_EMAIL: 'agent@localhost',
    GIT_COMMITTER_NAME: 'agent',
    GIT_COMMITTER_EMAIL: 'agent@localhost',
  });
}

async function startLoopd(): Promise<void> {
  daemon = await startDaemon({ home, host: '127.0.0.1', port: 0, token: 'agents-token', maxConcurrency: 2, log: () => {} });
  client = createClientFor(daemon.url, daemon.token);
}

beforeAll(async () => {
  if (!existsSync(join(CACHE, 'node_modules', '.bin', 'claude')) || !existsSync(join(CACHE, 'node_modules', '.bin', 'codex'))) {
    throw new Error(`the agent CLIs are not installed in ${CACHE}: run npm run test:agents (it installs them first)`);
  }
  api = await startFakeApi();
  base = tempDir('loopd-agents-');
  home = join(base, 'loopd-home');
  setAgentEnv(api.url, api.url);
  await startLoopd();
  mkdirSync(TRANSCRIPTS, { recursive: true });
});

afterAll(async () => {
  await daemon?.stop({ drain: true });
  await api?.close();
  // Merge with what is on disk, so running one agent's tests keeps the other's transcripts.
  const path = join(TRANSCRIPTS, 'manifest.json');
  const old: TranscriptExpectation[] = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as TranscriptExpectation[]) : [];
  const merged = [...old.filter((o) => !manifest.some((m) => m.file === o.file)), ...manifest].sort((a, b) => a.file.localeCompare(b.file));
  if (manifest.length > 0) writeFileSync(path, JSON.stringify(merged, null, 2) + '\n');
});

/** Paths, ports and the user's name vary from run to run; the transcripts should not. */
function normalize(text: string): string {
  return text
    .replaceAll(base, '/tmp/loopd-agents')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/\/tmp\/loopd-test-[A-Za-z0-9]+/g, '/tmp/loopd-test');
}

function saveTranscript(run: RunView, logPath: string, exp: Omit<TranscriptExpectation, 'file'>): void {
  const file = `${exp.agent === 'command' ? 'claude' : exp.agent}-${exp.scenario}.log`;
  writeFileSync(join(TRANSCRIPTS, file), normalize(readFileSync(logPath, 'utf8')));
  manifest.push({ file, ...exp });
  void run;
}

interface Scenario {
  scenario: string;
  flags?: Record<string, string | number | boolean>;
  anthropicUrl?: string;
  openaiUrl?: string;
}

async function runScenario(agent: 'claude' | 'codex', s: Scenario, timeoutMs = 150_000) {
  api.setScenario(s.scenario);
  api.state.requests.length = 0;
  setAgentEnv(s.anthropicUrl ?? api.url, s.openaiUrl ?? api.url);
  const repo = makeRepo({ tasks: 1 });
  const created = await client.runs.create.mutate({
    cwd: repo.root,
    spec: 'specs/demo.md',
    flags: {
      agent,
      ...(agent === 'codex' ? { model: 'gpt-5.1-codex' } : {}),
      reviewer: false,
      iterations: 1,
      merge_strategy: 'none',
      claude_retries: 0,
      transient_retries: 1,
      claude_retry_backoff_sec: 0,
      agent_api_retries: 0,
      ...s.flags,
    },
  });
  const run = await waitForRun(client, created.id, timeoutMs);
  const detail = await client.runs.get.query({ run: run.id });
  const events = await client.runs.eventsList.query({ run: run.id, limit: 10_000 });
  const first = detail.steps.find((x) => x.phase === 'implementation')!;
  return { run, detail, events, first, repo };
}

const requestsTo = (suffix: string) => api.state.requests.filter((r) => (r.url ?? '').split('?')[0]!.endsWith(suffix)).length;

function groupLeft(pattern: RegExp): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => pattern.test(l));
}

describe.each(['claude', 'codex'] as const)('%s, whole loopd runs against the scripted API', (agent) => {
  const path = agent === 'claude' ? '/messages' : '/responses';
  const label = agent === 'claude' ? 'claude_failed' : 'agent_failed';

  it('success: completes, with cost and tokens recorded per step, and renders readably', async () => {
    const { run, first } = await runScenario(agent, { scenario: 'success' });
    expect(run.status, run.lastError ?? '').toBe('COMPLETED');
    expect(run.costUsd).toBeGreaterThan(0);
    expect(first.costUsd).toBe(run.costUsd);
    expect(first.costSource).toBe(agent === 'claude' ? 'reported' : 'estimated');
    if (agent === 'codex') {
      // Two API responses of 2000 in (500 cached) and 150 out, summed by Codex into one turn,
      // at gpt-5.1-codex prices.
      expect(first.inputTokens).toBe(4000);
      expect(first.outputTokens).toBe(300);
      expect(run.costUsd).toBeCloseTo((3000 * 1.25 + 1000 * 0.125 + 300 * 10) / 1e6, 9);
    }
    const tail = await client.runs.tail.query({ run: run.id, lines: 500 });
    expect(tail!.text).toContain('<promise>COMPLETE</promise>');
    saveTranscript(run, first.outputPath!, {
      agent,
      scenario: 'success',
      failed: false,
      errorKind: null,
      textIncludes: '<promise>COMPLETE</promise>',
      usage: { inputTokens: first.inputTokens!, outputTokens: first.outputTokens!, ...(agent === 'claude' ? { costUsd: first.costUsd! } : {}) },
      renders: agent === 'claude' ? ['→ Bash: ', '  ← committed', '✓ done'] : ['→ shell: ', '  ← committed', '✓ turn done'],
    });
  });

  it('401: fails at once, in the agent\'s words, with the fix', async () => {
    const { run, detail, first } = await runScenario(agent, { scenario: 'auth' });
    expect(run).toMatchObject({ status: 'FAILED', exitReason: `${label}:auth` });
    expect(run.lastError).toMatch(agent === 'claude' ? /Invalid API key/ : /401 Unauthorized/);
    expect(run.lastError).toContain(agent === 'claude' ? 'claude login' : 'codex login');
    expect(detail.steps.filter((x) => x.phase === 'implementation')).toHaveLength(1);
    expect(requestsTo(path)).toBeLessThanOrEqual(2);
    saveTranscript(run, first.outputPath!, {
      agent,
      scenario: 'auth',
      failed: true,
      errorKind: 'auth',
      errorIncludes: agent === 'claude' ? 'Invalid API key' : '401 Unauthorized',
      renders: [agent === 'claude' ? '✗ failed: Invalid API key' : '✗ failed: unexpected status 401'],
    });
  });

  it('429: a transient retry on loopd\'s budget, with the readable reason in the retry event', async () => {
    const { run, events, first } = await runScenario(agent, { scenario: 'rate_limit' });
    expect(run).toMatchObject({ status: 'FAILED', exitReason: `${label}:rate_limit` });
    const retry = events.find((e) => e.type === 'STEP_RETRY_QUEUED');
    expect(retry?.payload.reason).toBe('transient');
    expect(String(retry?.payload.detail)).toMatch(/429/);
    expect(String(retry?.payload.detail)).not.toMatch(/^\{/);
    saveTranscript(run, first.outputPath!, { agent, scenario: 'rate_limit', failed: true, errorKind: 'rate_limit', errorIncludes: '429', renders: ['✗ failed: '] });
  });

  it('529/503: overloaded is transient', async () => {
    const { run, events, first } = await runScenario(agent, { scenario: 'overloaded' });
    expect(run).toMatchObject({ status: 'FAILED', exitReason: `${label}:overloaded` });
    expect(events.filter((e) => e.type === 'STEP_RETRY_QUEUED')).toHaveLength(1);
    saveTranscript(run, first.outputPath!, {
      agent,
      scenario: 'overloaded',
      failed: true,
      errorKind: 'overloaded',
      errorIncludes: agent === 'claude' ? '529 Overloaded' : 'at capacity',
      renders: ['✗ failed: '],
    });
  });

  it('unreachable API: a network error, transient', async () => {
    // Codex waits for the network by itself, indefinitely: loopd's timeout ends it.
    const flags: Record<string, number> = agent === 'codex' ? { claude_timeout_sec: 6, transient_retries: 0 } : { transient_retries: 0 };
    const { run, first } = await runScenario(agent, { scenario: 'success', anthropicUrl: CLOSED_PORT_URL, openaiUrl: CLOSED_PORT_URL, flags });
    expect(run).toMatchObject({ status: 'FAILED', exitReason: agent === 'claude' ? `${label}:network` : `${label}:timeout` });
    expect(run.lastError).toMatch(agent === 'claude' ? /Connection refused|Unable to connect/ : /waiting for network/);
    expect(first.result?.errorKind).toBe('network');
    saveTranscript(run, first.outputPath!, {
      agent,
      scenario: 'unreachable',
      failed: true,
      errorKind: 'network',
      errorIncludes: agent === 'claude' ? 'ECONNREFUSED' : 'waiting for network',
      renders: [agent === 'claude' ? '✗ failed: API Error' : '! Reconnecting... waiting for network'],
    });
  });

  it('timeout during a tool call: the whole tree, tool subprocesses included, is killed', async () => {
    const { run, first } = await runScenario(agent, { scenario: 'slow_tool', flags: { claude_timeout_sec: 10, transient_retries: 0 } });
    expect(run).toMatchObject({ status: 'FAILED', exitReason: `${label}:timeout` });
    saveTranscript(run, first.outputPath!, {
      agent,
      scenario: 'timeout',
      failed: true,
      // The last thing printed is the shell's "Terminated": nothing the table knows.
      errorKind: 'unknown',
      renders: [agent === 'claude' ? '→ Bash: (sleep 300 &)' : '→ shell: '],
    });
    // Codex runs tool commands in a session of their own (setsid), outside the agent's process
    // group: this holds once loopd also kills escaped sessions (issue 7).
    await waitFor(() => groupLeft(/sleep 30[012]$/).length === 0, 10_000);
  });

  it('daemon restart mid-tool-call: the agent is adopted, not started again', async () => {
    api.setScenario('wait_tool');
    api.state.requests.length = 0;
    setAgentEnv(api.url, api.url);
    const gate = join(base, `gate-${agent}`);
    process.env.AGENT_TEST_GATE = gate;
    const repo = makeRepo({ tasks: 1 });
    const created = await client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: { agent, ...(agent === 'codex' ? { model: 'gpt-5.1-codex' } : {}), reviewer: false, iterations: 1, merge_strategy: 'none', claude_retries: 0 },
    });
    // The tool call is running once the API has been asked once and the agent waits on the gate.
    await waitFor(() => requestsTo(path) >= 1 && groupLeft(/AGENT_TEST_GATE|while \[ ! -e/).length > 0, 60_000);
    await daemon.stop();
    await startLoopd();
    writeFileSync(gate, '');
    const run = await waitForRun(client, created.id, 120_000);
    expect(run.status, run.lastError ?? '').toBe('COMPLETED');
    const detail = await client.runs.get.query({ run: run.id });
    expect(detail.steps.filter((x) => x.phase === 'implementation').map((x) => x.attempt)).toEqual([1]);
    const events = await client.runs.eventsList.query({ run: run.id, limit: 10_000 });
    expect(events.some((e) => e.type === 'STEP_ADOPTED')).toBe(true);
    // One conversation: the tool-call turn and the final turn, no second session.
    expect(requestsTo(path)).toBe(2);
    delete process.env.AGENT_TEST_GATE;
  });
});

describe('claude as root', () => {
  it.runIf(process.getuid?.() === 0)('refuses --dangerously-skip-permissions without IS_SANDBOX: caught at run creation, and named when it happens', async () => {
    setAgentEnv(api.url, api.url);
    delete process.env.IS_SANDBOX;
    const repo = makeRepo({ tasks: 1 });
    await expect(client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: { agent: 'claude' } })).rejects.toThrow(/IS_SANDBOX=1/);
    // A wrapper command escapes the creation check; the refusal is then read from the output.
    const created = await client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: { agent: 'command', agent_cmd: 'claude -p --output-format stream-json --verbose --dangerously-skip-permissions', reviewer: false, claude_retries: 2 },
    });
    const run = await waitForRun(client, created.id, 60_000);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'agent_failed:root_refused' });
    expect(run.lastError).toContain('IS_SANDBOX=1');
    const detail = await client.runs.get.query({ run: run.id });
    expect(detail.steps).toHaveLength(1);
    saveTranscript(run, detail.steps[0]!.outputPath!, {
      agent: 'command',
      scenario: 'root-refusal',
      failed: true,
      errorKind: 'root_refused',
      errorIncludes: 'root/sudo',
      renders: ['--dangerously-skip-permissions cannot be used with root/sudo privileges'],
    });
    process.env.IS_SANDBOX = '1';
  });
});
