// The config flags shared by `run` and `prompt`: parsing with oclif, mapping to config keys.
import { Parser } from '@oclif/core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../cli/base.js';
import Prompt from '../../cli/commands/prompt.js';
import Run from '../../cli/commands/run.js';
import { buildCreateInput, configFromFlags, FLAG_KEYS, parseSetFlag, runConfigFlags } from '../../cli/run-flags.js';
import { CONFIG_KEYS } from '../../core/config.js';

/** argv as oclif parses it for `run`, then mapped. */
async function mapped(argv: string[]): Promise<Record<string, string | number | boolean>> {
  const { flags } = await Parser.parse(['spec.md', ...argv], { flags: runConfigFlags, args: Run.args, strict: true });
  return configFromFlags(flags);
}

describe('config flags', () => {
  it('maps every dedicated flag to a real config key, with underscores', () => {
    const keys = new Set(CONFIG_KEYS.map((k) => k.name));
    for (const [flag, key] of Object.entries(FLAG_KEYS)) {
      expect(keys.has(key)).toBe(true);
      expect(flag in runConfigFlags).toBe(true);
      if (flag !== 'merge-target') expect(key).toBe(flag.replace(/-/g, '_'));
    }
  });

  it('gives run and prompt the same config flags', () => {
    for (const name of Object.keys(runConfigFlags)) {
      expect(Run.flags).toHaveProperty(name);
      expect(Prompt.flags).toHaveProperty(name);
    }
    expect(Object.keys(Prompt.flags)).not.toContain('wait');
  });

  it('sends nothing for absent flags, booleans included', async () => {
    expect(await mapped([])).toEqual({});
  });

  it('maps the existing and the new flags', async () => {
    const flags = await mapped([
      '--agent', 'command', '--agent-cmd', 'node a.mjs', '--iterations', '7', '--model', 'm1',
      '--merge-target', 'main', '--merge-strategy', 'none', '--base-branch', 'dev', '--completion-mode', 'exact',
      '--reviewer-agent', 'codex', '--reviewer-cmd', 'node r.mjs', '--reviewer-model', 'm2',
      '--verify-cmds', 'npm test|npm run lint', '--max-cost-usd', '2.5', '--worktree-provider', 'git',
      '--worktree-cleanup', '--run-naming-mode', 'haiku', '--reviewer',
    ]);
    expect(flags).toEqual({
      agent: 'command',
      agent_cmd: 'node a.mjs',
      iterations: 7,
      model: 'm1',
      merge_target_branch: 'main',
      merge_strategy: 'none',
      base_branch: 'dev',
      completion_mode: 'exact',
      reviewer: true,
      reviewer_agent: 'codex',
      reviewer_cmd: 'node r.mjs',
      reviewer_model: 'm2',
      verify_cmds: 'npm test|npm run lint',
      max_cost_usd: 2.5,
      worktree_provider: 'git',
      worktree_cleanup: true,
      run_naming_mode: 'haiku',
    });
  });

  it('sends --no-reviewer and --no-worktree-cleanup as false booleans', async () => {
    expect(await mapped(['--no-reviewer', '--no-worktree-cleanup'])).toEqual({ reviewer: false, worktree_cleanup: false });
  });

  it('checks --max-cost-usd locally', async () => {
    expect(await mapped(['--max-cost-usd', '$5'])).toEqual({ max_cost_usd: 5 });
    expect(await mapped(['--max-cost-usd', '0'])).toEqual({ max_cost_usd: 0 });
    await expect(mapped(['--max-cost-usd', 'lots'])).rejects.toThrow(/^invalid value "lots" for --max-cost-usd: expected a number/);
    await expect(mapped(['--max-cost-usd', '-1'])).rejects.toThrow(UserError);
  });

  it('rejects values outside a flag\'s options', async () => {
    await expect(mapped(['--worktree-provider', 'svn'])).rejects.toThrow(/--worktree-provider=svn to be one of: auto, git, worktrunk/);
    await expect(mapped(['--run-naming-mode', 'random'])).rejects.toThrow(/spec_slug, haiku, explicit/);
  });
});

describe('--set', () => {
  it('parses KEY=VALUE, splitting at the first =, values as text', () => {
    expect(parseSetFlag('verify_timeout_sec=120')).toEqual(['verify_timeout_sec', '120']);
    expect(parseSetFlag('agent_cmd=node x.mjs --mode=fast')).toEqual(['agent_cmd', 'node x.mjs --mode=fast']);
    expect(parseSetFlag('model=')).toEqual(['model', '']);
    expect(parseSetFlag(' claude-retries =0')).toEqual(['claude_retries', '0']);
  });

  it('rejects a --set without = or without a key, in one line', () => {
    expect(() => parseSetFlag('reviewer')).toThrow(UserError);
    expect(() => parseSetFlag('reviewer')).toThrow('--set "reviewer": expected KEY=VALUE, e.g. --set verify_timeout_sec=120');
    expect(() => parseSetFlag('=1')).toThrow('--set "=1": the key before "=" is empty');
  });

  it('passes any key through for the daemon to validate, repeatable, last one wins', async () => {
    expect(await mapped(['--set', 'claude_retries=0', '--set', 'verify_timeout_sec=60', '--set', 'no_such_key=1', '--set', 'claude_retries=1'])).toEqual({
      claude_retries: '1',
      verify_timeout_sec: '60',
      no_such_key: '1',
    });
  });

  it('takes one value per --set, so the spec may come after it', async () => {
    const { args, flags } = await Parser.parse(['--set', 'model=x', 'specs/a.md', 'plan.md'], { flags: runConfigFlags, args: Run.args });
    expect(args).toEqual({ spec: 'specs/a.md', plan: 'plan.md' });
    expect(configFromFlags(flags)).toEqual({ model: 'x' });
  });

  it('mixes with the dedicated flags, but not for the same key', async () => {
    expect(await mapped(['--no-reviewer', '--set', 'reviewer_model=m'])).toEqual({ reviewer: false, reviewer_model: 'm' });
    await expect(mapped(['--reviewer-cmd', 'a', '--set', 'reviewer_cmd=b'])).rejects.toThrow(
      '--set reviewer_cmd=... and --reviewer-cmd both set reviewer_cmd: use one',
    );
  });
});

describe('--name and naming mode', () => {
  it('--name alone means explicit naming', async () => {
    expect(await mapped(['--name', 'auth'])).toEqual({ run_naming_mode: 'explicit' });
  });

  it('an explicit naming mode wins over that default', async () => {
    expect(await mapped(['--name', 'auth', '--run-naming-mode', 'haiku'])).toEqual({ run_naming_mode: 'haiku' });
    expect(await mapped(['--name', 'auth', '--set', 'run_naming_mode=spec_slug'])).toEqual({ run_naming_mode: 'spec_slug' });
  });

  it('explicit naming without a name is an error', async () => {
    await expect(mapped(['--run-naming-mode', 'explicit'])).rejects.toThrow('run_naming_mode explicit needs a name: pass --name NAME');
  });
});

describe('buildCreateInput', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopd-flags-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'spec.md'), '# s\n');
  writeFileSync(join(dir, 'extra.conf'), 'iterations=3\n');

  it('resolves local files and carries name, config file, LOOP_CONFIG and flags', async () => {
    const input = await buildCreateInput(
      { spec: 'spec.md' },
      { name: 'x', config: 'extra.conf', reviewer: false, set: ['model=m'] },
      dir,
      { LOOP_CONFIG: 'team.conf' },
    );
    expect(input).toEqual({
      cwd: dir,
      spec: join(dir, 'spec.md'),
      plan: undefined,
      configFile: join(dir, 'extra.conf'),
      loopConfig: 'team.conf',
      flags: { reviewer: false, model: 'm', run_naming_mode: 'explicit' },
      name: 'x',
      origin: 'cli',
    });
  });

  it('fails on a missing plan or config file before contacting the daemon', async () => {
    await expect(buildCreateInput({ spec: 'spec.md', plan: 'nope.md' }, {}, dir, {})).rejects.toThrow('plan file not found: nope.md');
    await expect(buildCreateInput({ spec: 'spec.md' }, { config: 'nope.conf' }, dir, {})).rejects.toThrow('config file not found: nope.conf');
  });
});
