import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base.js';
import { daemonStartFlags } from './start.js';
import { stopWaitingOnInterrupt } from './stop.js';

export default class DaemonRestart extends BaseCommand {
  static override summary = 'Stop the loopd daemon (if it is running) and start it again.';
  static override description =
    'Like "loopctl daemon stop" followed by "loopctl daemon start". Without --addr or --max-concurrency (and without LOOPD_ADDR) ' +
    'the new daemon listens where the old one did, with the same concurrency. Without --drain running agents go on and the ' +
    'new daemon adopts them; with --drain their steps finish first (up to 10 minutes). Watched workspaces stay watched.';
  static override examples = [
    '<%= config.bin %> daemon restart',
    '<%= config.bin %> daemon restart --drain',
    '<%= config.bin %> daemon restart --max-concurrency 4 --watch .',
  ];
  static override flags = {
    drain: Flags.boolean({ description: 'Let running steps finish before stopping (waits up to 10 minutes).', default: false }),
    ...daemonStartFlags,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonRestart);
    const { drainingLine, resolveWatchPaths, startDaemon, startedLine, stopDaemon, stoppedLine } = await import('../../daemon-control.js');
    // Checked before stopping, so a typo does not leave the daemon stopped.
    const watch = resolveWatchPaths(flags.watch ?? []);
    const loc = await this.locate();

    let previous: { host: string; port: number; maxConcurrency: number } | null = null;
    const stopped = await stopDaemon(loc, {
      drain: flags.drain,
      onRequested: (d, timeoutMs) => {
        previous = d;
        if (!flags.drain || this.json) return;
        this.log(drainingLine(d, timeoutMs));
        stopWaitingOnInterrupt(d.pid);
      },
    });
    if (!this.json) this.log(stoppedLine(stopped));

    const old = previous as { host: string; port: number; maxConcurrency: number } | null;
    const envAddr = process.env.LOOPD_ADDR?.trim();
    const addr = flags.addr ?? (old && !envAddr ? `${old.host.includes(':') ? `[${old.host}]` : old.host}:${old.port}` : undefined);
    const started = await startDaemon({
      addr,
      maxConcurrency: flags['max-concurrency'] ?? old?.maxConcurrency,
      watch,
      logTail: this.json ? null : (text) => process.stderr.write(text),
    });
    if (this.json) this.printJson({ stopped, started });
    else this.log(startedLine(started));
  }
}
