import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base.js';

export const daemonStartFlags = {
  addr: Flags.string({
    description: 'HOST:PORT to listen on (loopback only; port 0 picks a free port). Default: LOOPD_ADDR or 127.0.0.1:7700.',
  }),
  'max-concurrency': Flags.integer({ description: 'How many runs may execute at once (default 3).', min: 1 }),
  watch: Flags.string({
    description: 'Watch the workspace (git root) containing PATH for new specs from the start (repeatable); see "loopctl watch".',
    helpValue: 'PATH',
    multiple: true,
    multipleNonGreedy: true,
  }),
};

export default class DaemonStart extends BaseCommand {
  static override summary = 'Start the loopd daemon in the background.';
  static override description =
    'Starts loopd detached, logging to <data dir>/loopd.log, and waits until it answers. Does nothing if it is already running ' +
    '(except that --watch paths are then registered with the running daemon). Watched workspaces stay watched across restarts.';
  static override examples = [
    '<%= config.bin %> daemon start',
    '<%= config.bin %> daemon start --addr 127.0.0.1:7800 --max-concurrency 2',
    '<%= config.bin %> daemon start --watch ~/src/app --watch ~/src/api',
  ];
  static override flags = daemonStartFlags;

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonStart);
    const { startDaemon, startedLine } = await import('../../daemon-control.js');
    const result = await startDaemon({
      addr: flags.addr,
      maxConcurrency: flags['max-concurrency'],
      watch: flags.watch,
      logTail: this.json ? null : (text) => process.stderr.write(text),
    });
    // A running daemon was not given the --watch paths at start-up: register them now.
    const watched = result.alreadyRunning && flags.watch ? await this.watchAll(flags.watch) : undefined;
    if (this.json) {
      this.printJson(watched ? { ...result, watched } : result);
      return;
    }
    this.log(startedLine(result));
    if (watched) {
      const { watchedLine } = await import('../../workspaces.js');
      for (const w of watched) this.log(await watchedLine(w));
    }
  }

  private async watchAll(paths: string[]) {
    const { resolveWatchPaths } = await import('../../daemon-control.js');
    const client = await this.client();
    const out = [];
    for (const p of resolveWatchPaths(paths)) out.push(await client.workspaces.watch.mutate({ path: p }));
    return out;
  }
}
