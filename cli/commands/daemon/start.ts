import { Flags } from '@oclif/core';
import { BaseCommand, UserError } from '../../base.js';

const START_TIMEOUT_MS = 10_000;

export default class DaemonStart extends BaseCommand {
  static override summary = 'Start the loopd daemon in the background.';
  static override description =
    'Starts loopd detached, logging to <data dir>/loopd.log, and waits until it answers. Does nothing if it is already running.';
  static override examples = ['<%= config.bin %> daemon start', '<%= config.bin %> daemon start --addr 127.0.0.1:7800 --max-concurrency 2'];
  static override flags = {
    addr: Flags.string({
      description: 'HOST:PORT to listen on (loopback only; port 0 picks a free port). Default: LOOPD_ADDR or 127.0.0.1:7700.',
    }),
    'max-concurrency': Flags.integer({ description: 'How many runs may execute at once (default 3).', min: 1 }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonStart);
    const { spawn } = await import('node:child_process');
    const fs = await import('node:fs');
    const { dirname, join, resolve } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const { homePaths, loopdHome, parseAddr } = await import('../../../core/home.js');
    const { baseUrl, pidAlive, probeHealth, readDaemonInfo } = await import('../../client.js');

    const home = resolve(loopdHome());
    const paths = homePaths(home);

    const current = readDaemonInfo(home);
    if (current && pidAlive(current.pid) && (await probeHealth(baseUrl(current.host, current.port), 1000))) {
      const url = baseUrl(current.host, current.port);
      if (this.json) this.printJson({ started: false, alreadyRunning: true, pid: current.pid, url, home });
      else this.log(`loopd is already running (pid ${current.pid}) on ${url}`);
      return;
    }

    const addrText = flags.addr ?? process.env.LOOPD_ADDR;
    const target = addrText && addrText.trim() !== '' ? parseAddr(addrText) : null;
    if (target && target.port !== 0 && (await probeHealth(baseUrl(target.host, target.port), 1000))) {
      throw new UserError(
        `something already answers at ${baseUrl(target.host, target.port)} but ${paths.daemonInfo} does not name it ` +
          '(a loopd with another LOOPD_HOME?); stop it, or pick another address with --addr',
      );
    }

    // bin/loopd.js sits two levels above dist/cli/commands/daemon/.
    const here = dirname(fileURLToPath(import.meta.url));
    const pkgRoot = resolve(here, '..', '..', '..', '..');
    const script = join(pkgRoot, 'bin', 'loopd.js');
    if (!fs.existsSync(script)) throw new UserError(`cannot find the daemon launcher at ${script}`);

    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
    const logStart = fs.existsSync(paths.daemonLog) ? fs.statSync(paths.daemonLog).size : 0;
    const logFd = fs.openSync(paths.daemonLog, 'a');
    const args = ['--disable-warning=ExperimentalWarning', script, '--home', home];
    if (flags.addr) args.push('--addr', flags.addr);
    if (flags['max-concurrency'] !== undefined) args.push('--max-concurrency', String(flags['max-concurrency']));

    const spawnedAt = Date.now();
    // process.execPath: the launcher already put this CLI on Node >= 24.15, so the daemon gets it too.
    // cwd is the data dir so the daemon never pins the directory loopctl happened to be run from.
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd], cwd: home, env: process.env });
    fs.closeSync(logFd);
    // Filled in by the child's callbacks; an object so the checks below are not narrowed away.
    const state: { exited: { code: number | null; signal: NodeJS.Signals | null } | null; failure: Error | null } = {
      exited: null,
      failure: null,
    };
    child.on('exit', (code, signal) => {
      state.exited = { code, signal };
    });
    child.on('error', (err) => {
      state.failure = err;
    });
    child.unref();

    const deadline = spawnedAt + START_TIMEOUT_MS;
    let url: string | null = null;
    let pid: number | null = null;
    while (Date.now() < deadline && !state.exited && !state.failure) {
      const info = readDaemonInfo(home);
      // The pid check skips a stale daemon.json left by a crashed daemon.
      if (info && (info.pid === child.pid || (info.startedAt >= spawnedAt - 1000 && pidAlive(info.pid)))) {
        const candidate = baseUrl(info.host, info.port);
        if (await probeHealth(candidate, 500)) {
          url = candidate;
          pid = info.pid;
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }

    if (url && pid !== null) {
      if (this.json) this.printJson({ started: true, pid, url, home, log: paths.daemonLog });
      else this.log(`loopd started (pid ${pid}) on ${url}`);
      return;
    }

    let why: string;
    const ended = state.exited;
    if (state.failure) why = `could not start ${process.execPath}: ${state.failure.message}`;
    else if (ended) why = `loopd exited during start-up (${ended.signal ? `signal ${ended.signal}` : `code ${ended.code}`})`;
    else {
      why = `loopd (pid ${child.pid}) did not answer within ${START_TIMEOUT_MS / 1000} s, so it was stopped`;
      try {
        if (child.pid) process.kill(child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    const tail = readLogTail(fs, paths.daemonLog, logStart, 20);
    if (!this.json && tail) process.stderr.write(`--- ${paths.daemonLog} (last lines) ---\n${tail}\n---\n`);
    throw new UserError(`${why}; see ${paths.daemonLog}`);
  }
}

function readLogTail(fs: typeof import('node:fs'), path: string, from: number, lines: number): string {
  try {
    const text = fs.readFileSync(path).subarray(from).toString('utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
