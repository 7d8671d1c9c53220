import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CONFIG_KEYS,
  ConfigError,
  LEGACY_KEYS,
  defaultConfig,
  editDistance,
  parseBool,
  parseConfigText,
  renderDefaultConfigFile,
  resolveConfig,
  splitList,
  suggestKey,
} from '../../core/config.js';

const F = '.loop/config';

function parse(text: string) {
  return parseConfigText(text, F);
}

function parseError(text: string, file = F): ConfigError {
  try {
    parseConfigText(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('CONFIG_KEYS', () => {
  const expectedDefaults: Record<string, unknown> = {
    specs_dir: 'specs',
    plans_dir: 'specs/planning',
    log_dir: 'logs/loop',
    model: '',
    iterations: 50,
    completion_mode: 'trailing',
    reviewer: true,
    reviewer_agent: '',
    reviewer_cmd: '',
    reviewer_model: '',
    verify_cmds: [],
    verify_timeout_sec: 600,
    claude_timeout_sec: 1800,
    claude_retries: 2,
    claude_retry_backoff_sec: 5,
    transient_retries: 5,
    artifact_mode: 'mirror',
    global_log_dir: '',
    run_naming_mode: 'spec_slug',
    run_naming_model: '',
    base_branch: '',
    run_branch_prefix: 'run/',
    merge_target_branch: '',
    merge_strategy: 'squash',
    worktree_path_template: '../{{ repo }}.{{ run_branch | sanitize }}',
    worktree_provider: 'auto',
    worktree_cleanup: false,
    max_runs_per_workspace: 0,
    queue_policy: 'fifo',
    prompt_file: '',
    context_files: [],
    max_consecutive_verification_failures: 3,
    max_consecutive_review_failures: 0,
    watchdog_max_rewrites: 2,
    watchdog_no_progress_iterations: 2,
    max_cost_usd: 0,
    agent_api_retries: 2,
    max_output_bytes: 64 * 1024 * 1024,
    model_prices: '',
    agent: 'claude',
    agent_cmd: '',
    trigger_plan_wait_sec: 30,
    trigger_on_change: false,
  };

  it('has exactly the documented keys with their defaults', () => {
    expect(defaultConfig()).toEqual(expectedDefaults);
    expect(CONFIG_KEYS.map((k) => k.name).sort()).toEqual(Object.keys(expectedDefaults).sort());
  });

  it('has no duplicate keys', () => {
    const names = CONFIG_KEYS.map((k) => k.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('documents every key on one line', () => {
    for (const k of CONFIG_KEYS) {
      expect(k.doc.length).toBeGreaterThan(10);
      expect(k.doc).not.toContain('\n');
    }
  });

  it('lists allowed values for enums', () => {
    const byName = new Map(CONFIG_KEYS.map((k) => [k.name, k]));
    const values = (name: string) => {
      const k = byName.get(name as never);
      return k?.type === 'enum' ? [...k.values] : null;
    };
    expect(values('completion_mode')).toEqual(['exact', 'trailing']);
    expect(values('artifact_mode')).toEqual(['workspace', 'global', 'mirror']);
    expect(values('run_naming_mode')).toEqual(['spec_slug', 'haiku', 'explicit']);
    expect(values('merge_strategy')).toEqual(['none', 'merge', 'squash']);
    expect(values('worktree_provider')).toEqual(['auto', 'git', 'worktrunk']);
    expect(values('queue_policy')).toEqual(['fifo', 'newest_first']);
    expect(values('agent')).toEqual(['claude', 'codex', 'command']);
    expect(values('reviewer_agent')).toEqual(['claude', 'codex', 'command']);
  });

  it('does not overlap with the legacy keys', () => {
    for (const k of CONFIG_KEYS) expect(LEGACY_KEYS).not.toContain(k.name);
  });

  it('returns a fresh default object each time', () => {
    const a = defaultConfig();
    a.verify_cmds.push('x');
    expect(defaultConfig().verify_cmds).toEqual([]);
  });
});

describe('parseBool', () => {
  it.each(['true', 'TRUE', 'True', 'yes', 'YES', '1', 'on', 'On', ' true '])('%j is true', (v) => {
    expect(parseBool(v)).toBe(true);
  });
  it.each(['false', 'FALSE', 'no', 'No', '0', 'off', 'OFF', ' off '])('%j is false', (v) => {
    expect(parseBool(v)).toBe(false);
  });
  it.each(['', 'y', 'n', '2', 'enabled', 'truee', '-1'])('%j is not a boolean', (v) => {
    expect(parseBool(v)).toBeNull();
  });
});

describe('splitList', () => {
  it('splits, trims and drops empties', () => {
    expect(splitList(' a | b ||c| ', ['|'])).toEqual(['a', 'b', 'c']);
  });
  it('supports several separators', () => {
    expect(splitList('a, b|c ,,d', ['|', ','])).toEqual(['a', 'b', 'c', 'd']);
  });
  it('gives an empty list for blank text', () => {
    expect(splitList('   ', ['|'])).toEqual([]);
  });
});

describe('parseConfigText: syntax', () => {
  it('parses key=value lines', () => {
    expect(parse('iterations=5\nmodel=opus\n').values).toEqual({ iterations: '5', model: 'opus' });
  });

  it('ignores blank lines and full-line comments', () => {
    const r = parse('\n# a comment\n   # indented comment\n\niterations=5\n\n');
    expect(r.values).toEqual({ iterations: '5' });
    expect(r.warnings).toEqual([]);
  });

  it('ignores whitespace around key and =', () => {
    expect(parse('  iterations   =   7  ').values).toEqual({ iterations: '7' });
    expect(parse('\titerations\t=\t7\t').values).toEqual({ iterations: '7' });
  });

  it('strips double quotes', () => {
    expect(parse('model="claude-opus"').values.model).toBe('claude-opus');
  });

  it('strips single quotes', () => {
    expect(parse("model='claude-opus'").values.model).toBe('claude-opus');
  });

  it('keeps spaces inside quotes', () => {
    expect(parse('agent_cmd="  my agent  "').values.agent_cmd).toBe('  my agent  ');
  });

  it('allows an empty value, quoted or not', () => {
    expect(parse('model=').values.model).toBe('');
    expect(parse('model=""').values.model).toBe('');
    expect(parse("model=''").values.model).toBe('');
  });

  it('drops a trailing comment after an unquoted value', () => {
    expect(parse('iterations=5 # five is enough').values.iterations).toBe('5');
    expect(parse('model=opus\t# tab before hash').values.model).toBe('opus');
  });

  it('keeps # inside an unquoted value when no whitespace precedes it', () => {
    expect(parse('agent_cmd=run#1').values.agent_cmd).toBe('run#1');
    expect(parse('agent_cmd=#notacomment').values.agent_cmd).toBe('#notacomment');
  });

  it('treats a value that is only a comment as empty', () => {
    expect(parse('model= # use the default').values.model).toBe('');
  });

  it('keeps # inside quotes', () => {
    expect(parse('agent_cmd="echo # not a comment"').values.agent_cmd).toBe('echo # not a comment');
  });

  it('allows a comment after a quoted value', () => {
    expect(parse('model="opus" # comment').values.model).toBe('opus');
    expect(parse("model='opus'   # comment").values.model).toBe('opus');
  });

  it('allows trailing whitespace after a quoted value', () => {
    expect(parse('model="opus"   ').values.model).toBe('opus');
  });

  it('rejects text glued to a closing quote', () => {
    const e = parseError('model="opus"x');
    expect(e.message).toMatch(/^\.loop\/config:1: unexpected text "x" after the quoted value of model/);
    expect(e.line).toBe(1);
  });

  it('rejects an unterminated quote', () => {
    const e = parseError('\nmodel="opus');
    expect(e.message).toBe('.loop/config:2: unterminated " quote in the value of model');
    expect(e.file).toBe(F);
    expect(e.line).toBe(2);
    expect(e.key).toBe('model');
  });

  it('unescapes \\" and \\\\ inside double quotes only', () => {
    expect(parse('agent_cmd="say \\"hi\\" \\\\ there"').values.agent_cmd).toBe('say "hi" \\ there');
    expect(parse('agent_cmd="grep -E \'a\\|b\'"').values.agent_cmd).toBe("grep -E 'a\\|b'");
    expect(parse("agent_cmd='a\\\\b'").values.agent_cmd).toBe('a\\\\b');
  });

  it('keeps = signs in the value', () => {
    expect(parse('agent_cmd=env A=1 B=2 run').values.agent_cmd).toBe('env A=1 B=2 run');
  });

  it('handles CRLF line endings', () => {
    expect(parse('iterations=5\r\nmodel="opus"\r\n# c\r\n').values).toEqual({ iterations: '5', model: 'opus' });
  });

  it('handles a UTF-8 byte order mark', () => {
    expect(parse('\uFEFFiterations=5').values).toEqual({ iterations: '5' });
  });

  it('lets a later duplicate win, with a warning naming both lines', () => {
    const r = parse('iterations=5\niterations=9');
    expect(r.values.iterations).toBe('9');
    expect(r.warnings).toEqual(['.loop/config:2: iterations is also set on line 1; the later value wins']);
  });

  it('rejects a line without =, naming file and line', () => {
    const e = parseError('iterations=5\n\njust some words', '/abs/.loop/config');
    expect(e.message).toBe('/abs/.loop/config:3: expected key=value, got "just some words"');
    expect(e.file).toBe('/abs/.loop/config');
    expect(e.line).toBe(3);
  });

  it('rejects a missing key', () => {
    expect(parseError('=5').message).toBe('.loop/config:1: missing key before "=" in "=5"');
  });

  it('returns no values for an empty file', () => {
    expect(parse('')).toEqual({ values: {}, warnings: [] });
  });
});

describe('parseConfigText: keys', () => {
  it('suggests the nearest key for a typo', () => {
    const e = parseError('iterations=5\n\n\n\n\n\niteratons=5', '/abs/path/.loop/config');
    expect(e.message).toBe('/abs/path/.loop/config:7: unknown key "iteratons" (did you mean "iterations"?)');
    expect(e.key).toBe('iteratons');
    expect(e.line).toBe(7);
  });

  it('suggests for a transposition', () => {
    expect(parseError('reveiwer=true').message).toContain('(did you mean "reviewer"?)');
  });

  it('suggests the underscore spelling for dashes and upper case', () => {
    expect(parseError('verify-cmds=x').message).toContain('(did you mean "verify_cmds"?)');
    expect(parseError('ITERATIONS=5').message).toContain('(did you mean "iterations"?)');
  });

  it('points to loopctl init when nothing is close', () => {
    const e = parseError('frobnicate=1');
    expect(e.message).toBe(
      '.loop/config:1: unknown key "frobnicate" (run `loopctl init` to write a commented .loop/config listing every key)',
    );
  });

  it('accepts legacy keys with a warning', () => {
    const r = parse('no_gum=1\niterations=3\ntmux=true');
    expect(r.values).toEqual({ iterations: '3' });
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings[0]).toBe('.loop/config:1: ignoring "no_gum": a setting of the bash loop tool that loopd does not use');
    expect(r.warnings[1]).toMatch(/^\.loop\/config:3: ignoring "tmux"/);
  });

  it.each(LEGACY_KEYS.map((k) => [k]))('accepts legacy key %s even with an odd value', (k) => {
    const r = parse(`${k}=whatever value`);
    expect(r.values).toEqual({});
    expect(r.warnings).toHaveLength(1);
  });

  it('accepts every documented key at its default', () => {
    for (const k of CONFIG_KEYS) {
      const def = Array.isArray(k.default) ? (k.default as string[]).join('|') : String(k.default);
      expect(() => parse(`${k.name}="${def}"`)).not.toThrow();
    }
  });
});

describe('parseConfigText: values', () => {
  it('validates enums and lists the choices', () => {
    const e = parseError('\n\n\ncompletion_mode=fast');
    expect(e.message).toBe('.loop/config:4: invalid value "fast" for completion_mode: expected one of exact, trailing');
    expect(e.key).toBe('completion_mode');
    expect(e.line).toBe(4);
  });

  it('accepts enum values in any case, normalised to lower case', () => {
    expect(parse('completion_mode=EXACT').values.completion_mode).toBe('exact');
  });

  it.each([
    ['artifact_mode', 'both', 'workspace, global, mirror'],
    ['run_naming_mode', 'random', 'spec_slug, haiku, explicit'],
    ['merge_strategy', 'rebase', 'none, merge, squash'],
    ['worktree_provider', 'jj', 'auto, git, worktrunk'],
    ['queue_policy', 'lifo', 'fifo, newest_first'],
    ['agent', 'gpt', 'claude, codex, command'],
  ])('rejects %s=%s', (key, value, choices) => {
    expect(parseError(`${key}=${value}`).message).toBe(
      `.loop/config:1: invalid value "${value}" for ${key}: expected one of ${choices}`,
    );
  });

  it('rejects an empty agent but allows an empty reviewer_agent', () => {
    expect(parseError('agent=').message).toContain('expected one of claude, codex, command');
    expect(parse('reviewer_agent=').values.reviewer_agent).toBe('');
    expect(parse('reviewer_agent=codex').values.reviewer_agent).toBe('codex');
    expect(parseError('reviewer_agent=gpt').message).toContain('expected one of claude, codex, command (or empty)');
  });

  it('validates integers', () => {
    expect(parse('iterations=1').values.iterations).toBe('1');
    expect(parse('iterations=+12').values.iterations).toBe('12');
    expect(parse('iterations=007').values.iterations).toBe('7');
  });

  it.each(['0', '-1', '1.5', 'abc', '', '1e3', '0x10', '5 tries', '9999999999999999999'])('rejects iterations=%j', (v) => {
    expect(parseError(`iterations=${v}`).message).toBe(
      `.loop/config:1: invalid value ${JSON.stringify(v)} for iterations: expected an integer >= 1`,
    );
  });

  it('allows 0 where the minimum is 0', () => {
    expect(parse('claude_retries=0').values.claude_retries).toBe('0');
    expect(parse('max_runs_per_workspace=0').values.max_runs_per_workspace).toBe('0');
    expect(parseError('claude_retries=-1').message).toContain('expected an integer >= 0');
  });

  it.each(['claude_timeout_sec', 'verify_timeout_sec', 'watchdog_no_progress_iterations'])('requires %s >= 1', (k) => {
    expect(parseError(`${k}=0`).message).toContain('expected an integer >= 1');
  });

  it('validates non-negative numbers', () => {
    expect(parse('claude_retry_backoff_sec=0.5').values.claude_retry_backoff_sec).toBe('0.5');
    expect(parse('max_cost_usd=12.50').values.max_cost_usd).toBe('12.5');
    expect(parse('max_cost_usd=.5').values.max_cost_usd).toBe('0.5');
    expect(parse('max_cost_usd=0').values.max_cost_usd).toBe('0');
  });

  it.each(['-0.5', 'abc', '', 'NaN', 'Infinity', '0x10', '$5'])('rejects max_cost_usd=%j', (v) => {
    expect(parseError(`max_cost_usd=${v}`).message).toBe(
      `.loop/config:1: invalid value ${JSON.stringify(v)} for max_cost_usd: expected a number >= 0`,
    );
  });

  it('validates booleans', () => {
    expect(parse('reviewer=no').values.reviewer).toBe('false');
    expect(parse('reviewer=ON').values.reviewer).toBe('true');
    expect(parse('worktree_cleanup="yes"').values.worktree_cleanup).toBe('true');
    expect(parseError('reviewer=maybe').message).toBe(
      '.loop/config:1: invalid value "maybe" for reviewer: expected a boolean (true/false, yes/no, 1/0, on/off)',
    );
    expect(parseError('trigger_on_change=').message).toContain('expected a boolean');
  });

  it('keeps list values raw', () => {
    expect(parse('verify_cmds="npm test | npm run lint"').values.verify_cmds).toBe('npm test | npm run lint');
  });

  it('reports an error on the first bad line only', () => {
    const e = parseError('iterations=abc\ncompletion_mode=fast');
    expect(e.line).toBe(1);
  });

  it('produces single-line messages', () => {
    for (const text of ['x', 'iteratons=1', 'iterations=0', 'model="a', 'reviewer=2']) {
      expect(parseError(text).message).not.toContain('\n');
    }
  });
});

describe('editDistance / suggestKey', () => {
  it('computes edit distance with transpositions', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('iterations', 'iteratons')).toBe(1);
  });

  it('suggests close keys only', () => {
    expect(suggestKey('modle')).toBe('model');
    expect(suggestKey('agnet')).toBe('agent');
    expect(suggestKey('verify_cmd')).toBe('verify_cmds');
    expect(suggestKey('max_consecutive_verification_failure')).toBe('max_consecutive_verification_failures');
    expect(suggestKey('xyz')).toBeNull();
    expect(suggestKey('completely_unrelated_setting')).toBeNull();
  });
});

describe('renderDefaultConfigFile', () => {
  const text = renderDefaultConfigFile();

  it('parses as a config with nothing set', () => {
    expect(parse(text)).toEqual({ values: {}, warnings: [] });
  });

  it('lists every key commented out, preceded by its doc', () => {
    const lines = text.split('\n');
    for (const k of CONFIG_KEYS) {
      const i = lines.findIndex((l) => l.startsWith(`# ${k.name}=`));
      expect(i, k.name).toBeGreaterThan(0);
      expect(lines[i - 1]).toBe(`# ${k.doc}${k.type === 'enum' ? ` (${k.values.join('|')}${k.allowEmpty ? '|empty' : ''})` : ''}`);
    }
  });

  it('round-trips to the defaults when every key is uncommented', () => {
    const uncommented = text
      .split('\n')
      .map((l) => (/^# [a-z_]+=/.test(l) ? l.slice(2) : l))
      .join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'loopd-config-'));
    try {
      mkdirSync(join(dir, '.loop'));
      writeFileSync(join(dir, '.loop', 'config'), uncommented);
      const r = resolveConfig({ workspaceRoot: dir, env: {} });
      expect(r.config).toEqual(defaultConfig());
      expect(Object.values(r.sources).every((s) => s === 'workspace')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('quotes values with spaces and empty values', () => {
    expect(text).toContain('# worktree_path_template="../{{ repo }}.{{ run_branch | sanitize }}"');
    expect(text).toContain('# model=""');
    expect(text).toContain('# iterations=50');
    expect(text).toContain('# reviewer=true');
    expect(text).toContain('# run_branch_prefix=run/');
  });
});

describe('resolveConfig', () => {
  let root: string;
  let other: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'loopd-ws-'));
    other = mkdtempSync(join(tmpdir(), 'loopd-other-'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });

  function writeWorkspace(text: string): string {
    mkdirSync(join(root, '.loop'), { recursive: true });
    const path = join(root, '.loop', 'config');
    writeFileSync(path, text);
    return path;
  }

  function resolveError(src: Parameters<typeof resolveConfig>[0]): ConfigError {
    try {
      resolveConfig(src);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return e as ConfigError;
    }
    throw new Error('expected a ConfigError');
  }

  it('gives the defaults with no config anywhere', () => {
    const r = resolveConfig({ workspaceRoot: root, env: {} });
    expect(r.config).toEqual(defaultConfig());
    expect(r.warnings).toEqual([]);
    expect(Object.keys(r.sources).sort()).toEqual(CONFIG_KEYS.map((k) => k.name).sort());
    expect(Object.values(r.sources).every((s) => s === 'default')).toBe(true);
  });

  it('reads the workspace .loop/config and converts types', () => {
    writeWorkspace(
      [
        'iterations=7',
        'reviewer=off',
        'claude_retry_backoff_sec=1.5',
        'verify_cmds="npm test | npm run lint |"',
        'context_files=README.md, docs/a.md|docs/b.md',
        'completion_mode=exact',
      ].join('\n'),
    );
    const r = resolveConfig({ workspaceRoot: root, env: {} });
    expect(r.config.iterations).toBe(7);
    expect(r.config.reviewer).toBe(false);
    expect(r.config.claude_retry_backoff_sec).toBe(1.5);
    expect(r.config.verify_cmds).toEqual(['npm test', 'npm run lint']);
    expect(r.config.context_files).toEqual(['README.md', 'docs/a.md', 'docs/b.md']);
    expect(r.config.completion_mode).toBe('exact');
    expect(r.sources.iterations).toBe('workspace');
    expect(r.sources.model).toBe('default');
  });

  it('does not split verify_cmds on commas', () => {
    writeWorkspace('verify_cmds=node -e "1,2" | make');
    expect(resolveConfig({ workspaceRoot: root, env: {} }).config.verify_cmds).toEqual(['node -e "1,2"', 'make']);
  });

  it('names the absolute workspace config path in errors', () => {
    const path = writeWorkspace('iterations=5\niteratons=6');
    const e = resolveError({ workspaceRoot: root, env: {} });
    expect(e.message).toBe(`${path}:2: unknown key "iteratons" (did you mean "iterations"?)`);
    expect(e.file).toBe(path);
  });

  it('collects warnings with the file path', () => {
    const path = writeWorkspace('no_wait=1');
    expect(resolveConfig({ workspaceRoot: root, env: {} }).warnings).toEqual([
      `${path}:1: ignoring "no_wait": a setting of the bash loop tool that loopd does not use`,
    ]);
  });

  it('LOOP_CONFIG overrides the workspace config', () => {
    writeWorkspace('iterations=7\nmodel=a');
    const envFile = join(other, 'env.config');
    writeFileSync(envFile, 'iterations=8');
    const r = resolveConfig({ workspaceRoot: root, env: { LOOP_CONFIG: envFile } });
    expect(r.config.iterations).toBe(8);
    expect(r.config.model).toBe('a');
    expect(r.sources.iterations).toBe('LOOP_CONFIG');
    expect(r.sources.model).toBe('workspace');
  });

  it('resolves a relative LOOP_CONFIG against the workspace root', () => {
    writeFileSync(join(root, 'ci.config'), 'iterations=3');
    expect(resolveConfig({ workspaceRoot: root, env: { LOOP_CONFIG: 'ci.config' } }).config.iterations).toBe(3);
  });

  it('ignores an empty LOOP_CONFIG', () => {
    expect(resolveConfig({ workspaceRoot: root, env: { LOOP_CONFIG: '  ' } }).config).toEqual(defaultConfig());
  });

  it('fails when LOOP_CONFIG names a missing file', () => {
    const missing = join(other, 'nope.config');
    const e = resolveError({ workspaceRoot: root, env: { LOOP_CONFIG: missing } });
    expect(e.message).toBe(`LOOP_CONFIG file ${missing} does not exist`);
    expect(e.file).toBe(missing);
  });

  it('fails when LOOP_CONFIG names a directory', () => {
    expect(resolveError({ workspaceRoot: root, env: { LOOP_CONFIG: other } }).message).toBe(
      `LOOP_CONFIG file ${other} is not a file`,
    );
  });

  it('--config overrides LOOP_CONFIG and the workspace config', () => {
    writeWorkspace('iterations=7\nmodel=a\nagent=codex');
    const envFile = join(other, 'env.config');
    writeFileSync(envFile, 'iterations=8\nmodel=b');
    const cfgFile = join(other, 'cli.config');
    writeFileSync(cfgFile, 'iterations=9');
    const r = resolveConfig({ workspaceRoot: root, env: { LOOP_CONFIG: envFile }, configFile: cfgFile });
    expect(r.config.iterations).toBe(9);
    expect(r.config.model).toBe('b');
    expect(r.config.agent).toBe('codex');
    expect(r.sources).toMatchObject({ iterations: 'config_file', model: 'LOOP_CONFIG', agent: 'workspace', reviewer: 'default' });
  });

  it('resolves a relative --config against the workspace root', () => {
    mkdirSync(join(root, 'conf'));
    writeFileSync(join(root, 'conf', 'x.config'), 'iterations=4');
    const r = resolveConfig({ workspaceRoot: root, env: {}, configFile: 'conf/x.config' });
    expect(r.config.iterations).toBe(4);
  });

  it('fails when --config names a missing file', () => {
    const e = resolveError({ workspaceRoot: root, env: {}, configFile: 'missing.config' });
    expect(e.message).toBe(`--config file ${join(root, 'missing.config')} does not exist`);
  });

  it('names the --config file in its parse errors', () => {
    const cfgFile = join(other, 'cli.config');
    writeFileSync(cfgFile, 'merge_strategy=rebase');
    expect(resolveError({ workspaceRoot: root, env: {}, configFile: cfgFile }).message).toBe(
      `${cfgFile}:1: invalid value "rebase" for merge_strategy: expected one of none, merge, squash`,
    );
  });

  it('flags override everything', () => {
    writeWorkspace('iterations=7\nmodel=a\nagent=codex\nreviewer=false');
    const envFile = join(other, 'env.config');
    writeFileSync(envFile, 'iterations=8\nmodel=b');
    const cfgFile = join(other, 'cli.config');
    writeFileSync(cfgFile, 'iterations=9\nmax_cost_usd=3');
    const r = resolveConfig({
      workspaceRoot: root,
      env: { LOOP_CONFIG: envFile },
      configFile: cfgFile,
      flags: { iterations: 10, model: undefined },
    });
    expect(r.config).toMatchObject({ iterations: 10, model: 'b', agent: 'codex', reviewer: false, max_cost_usd: 3 });
    expect(r.sources).toMatchObject({
      iterations: 'flag',
      model: 'LOOP_CONFIG',
      agent: 'workspace',
      reviewer: 'workspace',
      max_cost_usd: 'config_file',
      log_dir: 'default',
    });
  });

  it('accepts typed flag values', () => {
    const r = resolveConfig({
      workspaceRoot: root,
      env: {},
      flags: {
        reviewer: false,
        iterations: '12',
        claude_retry_backoff_sec: 0.25,
        completion_mode: 'exact',
        verify_cmds: ['npm test', ' ', 'echo a|b'],
        context_files: 'a.md,b.md',
        worktree_cleanup: 'yes',
        model: 'opus',
      },
    });
    expect(r.config).toMatchObject({
      reviewer: false,
      iterations: 12,
      claude_retry_backoff_sec: 0.25,
      completion_mode: 'exact',
      verify_cmds: ['npm test', 'echo a|b'],
      context_files: ['a.md', 'b.md'],
      worktree_cleanup: true,
      model: 'opus',
    });
  });

  it('names the flag in flag errors', () => {
    expect(resolveError({ workspaceRoot: root, env: {}, flags: { iterations: 'abc' } }).message).toBe(
      'invalid value "abc" for --iterations: expected an integer >= 1',
    );
    expect(resolveError({ workspaceRoot: root, env: {}, flags: { iterations: 2.5 } }).message).toBe(
      'invalid value "2.5" for --iterations: expected an integer >= 1',
    );
    expect(resolveError({ workspaceRoot: root, env: {}, flags: { completion_mode: 'fast' } }).message).toBe(
      'invalid value "fast" for --completion-mode: expected one of exact, trailing',
    );
    const e = resolveError({ workspaceRoot: root, env: {}, flags: { reviewer: 'maybe' } });
    expect(e.message).toBe('invalid value "maybe" for --reviewer: expected a boolean (true/false, yes/no, 1/0, on/off)');
    expect(e.key).toBe('reviewer');
  });

  it('rejects a flag of the wrong type', () => {
    expect(resolveError({ workspaceRoot: root, env: {}, flags: { iterations: true } }).message).toContain('--iterations');
    expect(resolveError({ workspaceRoot: root, env: {}, flags: { reviewer: 1 } }).message).toContain('--reviewer');
    expect(resolveError({ workspaceRoot: root, env: {}, flags: { model: ['a', 'b'] } }).message).toContain('--model');
    expect(resolveError({ workspaceRoot: root, env: {}, flags: { verify_cmds: true } }).message).toContain('--verify-cmds');
  });

  it('rejects an unknown flag key with a suggestion', () => {
    expect(resolveError({ workspaceRoot: root, env: {}, flags: { iteratons: 5 } }).message).toBe(
      '--iteratons: unknown key "iteratons" (did you mean "iterations"?)',
    );
  });

  it('warns about a legacy flag key', () => {
    const r = resolveConfig({ workspaceRoot: root, env: {}, flags: { no_gum: true } });
    expect(r.warnings).toHaveLength(1);
    expect(r.config).toEqual(defaultConfig());
  });

  it('does not let a bad lower layer hide behind a flag', () => {
    writeWorkspace('iterations=zero');
    expect(() => resolveConfig({ workspaceRoot: root, env: {}, flags: { iterations: 3 } })).toThrow(ConfigError);
  });

  it('fails when .loop/config is a directory', () => {
    mkdirSync(join(root, '.loop', 'config'), { recursive: true });
    expect(resolveError({ workspaceRoot: root, env: {} }).message).toContain('is not a file');
  });

  it('reads LOOP_CONFIG from process.env when env is omitted', () => {
    const envFile = join(other, 'env.config');
    writeFileSync(envFile, 'iterations=21');
    const saved = process.env.LOOP_CONFIG;
    process.env.LOOP_CONFIG = envFile;
    try {
      expect(resolveConfig({ workspaceRoot: root }).config.iterations).toBe(21);
    } finally {
      if (saved === undefined) delete process.env.LOOP_CONFIG;
      else process.env.LOOP_CONFIG = saved;
    }
  });

  it('produces a JSON-serialisable config', () => {
    const r = resolveConfig({ workspaceRoot: root, env: {} });
    expect(JSON.parse(JSON.stringify(r.config))).toEqual(r.config);
  });
});
