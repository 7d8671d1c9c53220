import { Flags } from '@oclif/core';
import { BaseCommand, UserError } from '../../base.js';

export default class DaemonInstall extends BaseCommand {
  static override summary = 'Run loopd as a systemd user service (Restart=on-failure), enabled at login.';
  static override description =
    'Writes $XDG_CONFIG_HOME/systemd/user/loopd.service (default ~/.config/systemd/user) for this install of loopd, its Node, ' +
    'data dir (LOOPD_HOME) and address, and enables it; --now also starts it. The log goes to <data dir>/loopd.log ' +
    '(loopctl daemon logs), or with --journal to the systemd journal. Stopping the service stops loopd only: running agents ' +
    'go on and are re-adopted when it starts again. Without a systemd user session (a container, CI) the unit is written ' +
    'and the command says how to enable it. See docs/service.md.';
  static override examples = [
    '<%= config.bin %> daemon install --now',
    '<%= config.bin %> daemon install --addr 127.0.0.1:7800 --journal',
  ];
  static override flags = {
    addr: Flags.string({ description: 'HOST:PORT the service listens on (loopback only). Default: LOOPD_ADDR or 127.0.0.1:7700.' }),
    'max-concurrency': Flags.integer({ description: 'How many runs may execute at once (default 3).', min: 1 }),
    journal: Flags.boolean({ description: 'Log to the systemd journal instead of <data dir>/loopd.log.', default: false }),
    now: Flags.boolean({ description: 'Start the service now as well.', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonInstall);
    if (flags.now) await this.refuseIfRunningOutside();
    const { installService, installedLines } = await import('../../service.js');
    const result = installService({ addr: flags.addr, maxConcurrency: flags['max-concurrency'], journal: flags.journal, now: flags.now });
    if (this.json) this.printJson(result);
    else for (const line of installedLines(result)) this.log(line);
  }

  /** A loopd started by `daemon start` holds the port and the data dir: the service would fail to start. */
  private async refuseIfRunningOutside(): Promise<void> {
    const { pidAlive, probeHealth } = await import('../../client.js');
    const loc = await this.locate();
    if (loc.info && pidAlive(loc.info.pid) && (await probeHealth(loc.url, 1000))) {
      throw new UserError(
        `loopd is already running (pid ${loc.info.pid}) outside the service: stop it with "loopctl daemon stop" (its agents are re-adopted), then run "loopctl daemon install --now" again`,
      );
    }
  }
}
