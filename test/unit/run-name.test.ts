import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from './tmp.js';
import { shellQuote } from '../../core/agents/adapters.js';
import { runOneShot } from '../../core/agents/oneshot.js';
import { haikuPrompt, parseHaikuName, suggestRunName } from '../../core/run-name.js';

const tmp = tempDirs('loopd-name-');

/** `node -e <script>` as a shell command line, with this test's own node. */
function nodeCmd(script: string): string {
  return `${shellQuote(process.execPath)} -e ${shellQuote(script)}`;
}

/** Gone, or a zombie nobody reaps (containers without an init keep those around). */
function isDeadPid(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

const SPEC = '# Frobnicator cache\n\nAdd a cache in front of the frobnicator so repeated lookups are fast.\n';

describe('parseHaikuName', () => {
  it.each([
    ['fast-cache', 'fast-cache'],
    ['fast-cache\n', 'fast-cache'],
    ['\n\n  Fast Cache  \n', 'fast-cache'],
    ['"fast-cache"', 'fast-cache'],
    ["'fast-cache'.", 'fast-cache'],
    ['`fast-cache`', 'fast-cache'],
    ['**fast-cache**', 'fast-cache'],
    ['“fast-cache”', 'fast-cache'],
    ['Name: fast-cache', 'fast-cache'],
    ['**Name:** `fast-cache`', 'fast-cache'],
    ['run name = fast-cache', 'fast-cache'],
    ['Suggested name - fast-cache', 'fast-cache'],
    ['name-generator', 'name-generator'],
    ['- fast-cache', 'fast-cache'],
    ['# fast-cache', 'fast-cache'],
    ['1. fast-cache', 'fast-cache'],
    ['```\nfast-cache\n```', 'fast-cache'],
    ['Name:\nfast-cache', 'fast-cache'],
    ['fast_cache', 'fast-cache'],
    ['Café Crème Export', 'cafe-creme-export'],
    ['oauth2-login', 'oauth2-login'],
    ['cache', 'cache'],
    ['a-b-c-d-e', 'a-b-c-d-e'],
    ['fast-cache\nBecause it makes lookups fast.', 'fast-cache'],
  ])('%j -> %s', (input, expected) => {
    expect(parseHaikuName(input)).toBe(expected);
  });

  it.each([
    [''],
    ['   \n\n'],
    ['```\n```'],
    ['a-b-c-d-e-f'],
    ['Sure! Here is a memorable name for this work: fast-cache'],
    ['supercalifragilistic-expialidocious-frobnicator'],
    ['🚀🚀🚀'],
    ['快速缓存'],
    ['Name:'],
    ['...'],
  ])('%j -> null', (input) => {
    expect(parseHaikuName(input)).toBeNull();
  });

  it('accepts a literal "run" but never invents it', () => {
    expect(parseHaikuName('run')).toBe('run');
    expect(parseHaikuName('***')).toBeNull();
  });
});

describe('haikuPrompt', () => {
  it('carries the spec and asks for the name only', () => {
    const p = haikuPrompt(SPEC);
    expect(p).toContain('Frobnicator cache');
    expect(p).toMatch(/kebab-case/);
    expect(p).toMatch(/name only/i);
  });

  it('truncates a huge spec', () => {
    const p = haikuPrompt(`start ${'x'.repeat(100_000)} end`);
    expect(p.length).toBeLessThan(10_000);
    expect(p).toContain('start');
    expect(p).not.toContain(' end');
  });
});

describe('runOneShot', () => {
  it('feeds the prompt on stdin and captures stdout and stderr in order', async () => {
    const r = await runOneShot({ command: 'echo out1; echo err1 >&2; cat; echo out2', cwd: tmp(), prompt: 'PROMPT\n', timeoutMs: 10_000 });
    expect(r).toEqual({ exitCode: 0, output: 'out1\nerr1\nPROMPT\nout2\n', timedOut: false });
  });

  it('runs in cwd with the extra env', async () => {
    const cwd = tmp();
    const r = await runOneShot({ command: 'pwd; echo "$LOOPD_X"', cwd, prompt: '', timeoutMs: 10_000, env: { LOOPD_X: 'yes' } });
    expect(r.output).toBe(`${cwd}\nyes\n`);
  });

  it('returns a failing exit code instead of throwing', async () => {
    const r = await runOneShot({ command: 'echo nope >&2; exit 7', cwd: tmp(), prompt: '', timeoutMs: 10_000 });
    expect(r).toEqual({ exitCode: 7, output: 'nope\n', timedOut: false });
  });

  it('copes with a command that ignores a large prompt', async () => {
    const r = await runOneShot({ command: 'echo done', cwd: tmp(), prompt: 'x'.repeat(2_000_000), timeoutMs: 10_000 });
    expect(r.exitCode).toBe(0);
    expect(r.output).toBe('done\n');
  });

  it('does not throw when the command cannot start', async () => {
    const r = await runOneShot({ command: 'echo hi', cwd: path.join(tmp(), 'missing'), prompt: '', timeoutMs: 10_000 });
    expect(r.exitCode).toBeNull();
    expect(r.timedOut).toBe(false);
    expect(r.output).not.toBe('');
  });

  it('kills the whole process tree on timeout', async () => {
    const dir = tmp();
    const pidFile = path.join(dir, 'child.pid');
    const r = await runOneShot({
      command: `sleep 30 & echo $! > ${shellQuote(pidFile)}; echo waiting; wait`,
      cwd: dir,
      prompt: '',
      timeoutMs: 500,
    });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(r.output).toContain('waiting');
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    expect(isDeadPid(pid)).toBe(true);
  });
});

describe('suggestRunName', () => {
  it('returns the name a command agent prints, reading the spec from stdin', async () => {
    const r = await suggestRunName({
      agentCommand: `grep -q Frobnicator && echo '"Frobnicator Cache"'`,
      kind: 'command',
      cwd: tmp(),
      specText: SPEC,
    });
    expect(r.name).toBe('frobnicator-cache');
    expect(r.reason).toMatch(/command agent/);
  });

  it("reads a claude agent's stream-json result", async () => {
    const events = [
      { type: 'system', subtype: 'init' },
      { type: 'assistant', message: { content: [{ type: 'text', text: 'oauth-login-flow' }] } },
      { type: 'result', subtype: 'success', is_error: false, result: 'oauth-login-flow' },
    ];
    const script = `process.stdin.resume(); process.stdin.on('end', () => { for (const e of ${JSON.stringify(events)}) console.log(JSON.stringify(e)); });`;
    const r = await suggestRunName({ agentCommand: nodeCmd(script), kind: 'claude', cwd: tmp(), specText: SPEC });
    expect(r).toEqual({ name: 'oauth-login-flow', reason: 'name suggested by the claude agent' });
  });

  it('gives up on garbage output', async () => {
    const r = await suggestRunName({
      agentCommand: 'echo "I would suggest naming this something about caching, maybe fast cache or quick store"',
      kind: 'command',
      cwd: tmp(),
      specText: SPEC,
    });
    expect(r.name).toBeNull();
    expect(r.reason).toMatch(/not a short name: "I would suggest/);
  });

  it('gives up on empty output', async () => {
    const r = await suggestRunName({ agentCommand: 'true', kind: 'command', cwd: tmp(), specText: SPEC });
    expect(r).toEqual({ name: null, reason: 'name agent replied with nothing' });
  });

  it('gives up on a non-zero exit, saying why', async () => {
    const r = await suggestRunName({ agentCommand: 'echo fast-cache; echo "auth failed" >&2; exit 3', kind: 'command', cwd: tmp(), specText: SPEC });
    expect(r.name).toBeNull();
    expect(r.reason).toMatch(/exited with code 3/);
    expect(r.reason).toContain('fast-cache');
  });

  it('gives up on a timeout', async () => {
    const r = await suggestRunName({ agentCommand: 'sleep 30; echo too-late', kind: 'command', cwd: tmp(), specText: SPEC, timeoutMs: 300 });
    expect(r.name).toBeNull();
    expect(r.reason).toMatch(/timed out/);
  });

  it('never throws, even when the agent cannot start', async () => {
    const r = await suggestRunName({ agentCommand: 'echo x', kind: 'command', cwd: path.join(tmp(), 'missing'), specText: SPEC });
    expect(r.name).toBeNull();
    expect(r.reason).toMatch(/did not start/);
  });
});
