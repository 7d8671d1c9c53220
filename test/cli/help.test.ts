// loopctl's help, typo suggestions and shell completion as a user meets them, in this process by
// bin/loopctl.js's route and (for the exit code of a typo) through the binary: no daemon is needed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notFoundMessage, suggestCommand, typedCommand } from '../../cli/command-suggest.js';
import { errorLine, wantsJson } from '../../cli/main.js';
import { closedPort, loopctl as inProcess, requireFreshBuild, runLoopctl } from './helpers.js';

requireFreshBuild();

const set = {
  commands: ['cancel', 'events', 'init', 'inspect', 'list', 'help', 'daemon:start', 'daemon:status', 'daemon:stop', 'daemon:restart'],
  topics: ['daemon'],
};

describe('command suggestions', () => {
  it('separates the unknown command from the arguments oclif folded into its id', () => {
    expect(typedCommand('inspct:x', set)).toEqual(['inspct']);
    expect(typedCommand('daemon:stauts:now', set)).toEqual(['daemon', 'stauts']);
    expect(typedCommand('lsit', set)).toEqual(['lsit']);
  });

  it('suggests the nearest command for a slip, a swap or a unique prefix, and nothing for noise', () => {
    expect(suggestCommand(['lsit'], set)).toBe('list');
    expect(suggestCommand(['inspct'], set)).toBe('inspect');
    expect(suggestCommand(['insp'], set)).toBe('inspect');
    expect(suggestCommand(['daemon', 'stauts'], set)).toBe('daemon status');
    expect(suggestCommand(['xyzzy'], set)).toBeNull();
    // "in" starts both init and inspect: no guess.
    expect(suggestCommand(['in'], set)).toBeNull();
  });

  it('says what was typed, the nearest command and where the list is, in one line', () => {
    expect(notFoundMessage('inspct:x', set)).toBe(
      '"inspct" is not a loopctl command; did you mean "loopctl inspect"? ("loopctl help" lists the commands)',
    );
    expect(notFoundMessage('daemon:stauts', set, 'loopctl', 'help ')).toBe(
      '"daemon stauts" is not a loopctl command; did you mean "loopctl help daemon status"? ("loopctl help daemon" lists the daemon commands)',
    );
    expect(notFoundMessage('xyzzy', set)).toBe('"xyzzy" is not a loopctl command ("loopctl help" lists the commands)');
    expect(notFoundMessage('--json', set)).toBe(
      '"--json" is not a command, and only --help and --version come before one ("loopctl help" lists the commands)',
    );
  });

  it('finds --json before a "--" only, and turns oclif errors into one plain line', () => {
    expect(wantsJson(['lsit', '--json'])).toBe(true);
    expect(wantsJson(['run', '--', '--json'])).toBe(false);
    expect(errorLine(new Error('\u001b[33mNonexistent flag: --bogus\u001b[39m\nSee more help with --help'))).toBe(
      'Nonexistent flag: --bogus (see --help)',
    );
  });
});

describe('help, typos and completion by bin/loopctl.js\'s route', () => {
  let base = '';
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'loopd-help-'));
    env = {
      ...process.env,
      LOOPD_HOME: join(base, 'home'),
      LOOPD_ADDR: `127.0.0.1:${await closedPort()}`,
      // The completion cache goes under the user's cache dir.
      XDG_CACHE_HOME: join(base, 'cache'),
      HOME: base,
    };
    delete env.LOOPD_AUTH_TOKEN;
    delete env.FORCE_COLOR;
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  // In this process, by bin/loopctl.js's route (oclif's dispatcher for help, typos and plugins);
  // `bin` runs the real binary, for the exit code and the streams of a whole process.
  const loopctl = (...args: string[]) => inProcess(args, { env });
  const bin = (...args: string[]) => runLoopctl(args, { env });

  it('help RUN, run -h and run --help print the same help for run', async () => {
    const help = await loopctl('help', 'run');
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Start a run of an agent loop/);
    expect(help.stdout).toMatch(/USAGE\n {2}\$ loopctl run SPEC \[PLAN\]/);
    expect(help.stdout).toContain('--wait');
    expect((await loopctl('run', '-h')).stdout).toBe(help.stdout);
    expect((await loopctl('run', '--help')).stdout).toBe(help.stdout);
    const root = await loopctl('help');
    expect(root.code).toBe(0);
    expect(root.stdout).toMatch(/^ {2}inspect +Show everything about one run/m);
    expect(root.stdout).toMatch(/^ {2}daemon +Start, stop and check/m);
    // Help for a command ignores the arguments after it.
    expect((await loopctl('help', 'daemon', 'status', 'extra')).stdout).toMatch(/^Show whether loopd is running/);
  });

  it('an unknown command names the nearest one in one line, exit 127, without oclif\'s ":"', async () => {
    // The whole process: exit code 127 and nothing but the one line.
    const r = await bin('inspct', 'x');
    expect(r.code).toBe(127);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: "inspct" is not a loopctl command; did you mean "loopctl inspect"? ("loopctl help" lists the commands)\n');
    const sub = await loopctl('daemon', 'stauts');
    expect(sub.stderr).toMatch(/^Error: "daemon stauts" is not a loopctl command; did you mean "loopctl daemon status"\?/);
    const help = await loopctl('help', 'inspct');
    expect(help.code).toBe(127);
    expect(help.stderr).toMatch(/^Error: "inspct" is not a loopctl command; did you mean "loopctl help inspect"\?/);
    for (const x of [r, sub, help]) expect(x.stderr).not.toContain(':x');
  });

  it('every error honours --json: unknown commands, unknown flags, help', async () => {
    for (const args of [['lsit', '--json'], ['list', '--bogus', '--json'], ['help', '--json'], ['daemon', 'stauts', '--json']]) {
      const r = await loopctl(...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toBe('');
      const body = JSON.parse(r.stdout) as { error: string };
      expect(Object.keys(body)).toEqual(['error']);
      expect(body.error.length).toBeGreaterThan(0);
    }
    const real = await bin('lsit', '--json');
    expect(real.code).toBe(127);
    expect(real.stderr).toBe('');
    expect((JSON.parse(real.stdout) as { error: string }).error).toMatch(/did you mean "loopctl list"/);
  });

  it('autocomplete: setup instructions, and bash completes commands, subcommands and flags', async () => {
    const bash = await loopctl('autocomplete', 'bash');
    expect(bash.code, bash.stderr).toBe(0);
    expect(bash.stdout).toContain('loopctl autocomplete script bash');
    const script = await loopctl('autocomplete', 'script', 'bash');
    expect(script.code, script.stderr).toBe(0);
    const setup = /LOOPCTL_AC_BASH_SETUP_PATH=(\S+?) &&/.exec(script.stdout)?.[1];
    expect(setup, script.stdout).toBe(join(base, 'cache', 'loopctl', 'autocomplete', 'bash_setup'));
    // What bash offers after <TAB>, through the completion function the setup installs.
    const complete = (line: string): string => {
      const probe =
        `source ${JSON.stringify(setup)}; read -ra COMP_WORDS <<< ${JSON.stringify(line)}; ` +
        `[[ ${JSON.stringify(line)} == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); ` +
        '_loopctl_autocomplete; echo "${COMPREPLY[*]}"';
      const r = spawnSync('bash', ['-c', probe], { encoding: 'utf8', env });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    expect(complete('loopctl ins')).toBe('inspect');
    expect(complete('loopctl daemon st').split(' ')).toEqual(['start', 'status', 'stop']);
    expect(complete('loopctl events --').split(' ')).toEqual(expect.arrayContaining(['--follow', '--last', '--since', '--workspace']));
    expect((await loopctl('autocomplete', 'zsh')).code).toBe(0);
  });
});
