import { BaseCommand, UserError } from '../../base.js';

const STOP_TIMEOUT_MS = 10_000;

export default class DaemonStop extends BaseCommand {
  static override summary = 'Stop the loopd daemon.';
  static override description =
    'Asks the daemon to shut down cleanly and waits for its process to exit. Runs in progress resume at the next start.';
  static override examples = ['<%= config.bin %> daemon stop'];

  async run(): Promise<void> {
    await this.parse(DaemonStop);
    const { createClientFor, pidAlive, probeHealth } = await import('../../client.js');
    const loc = await this.locate();

    if (!(await probeHealth(loc.url, 1000))) {
      const stale = loc.info && pidAlive(loc.info.pid) ? loc.info : null;
      if (stale) {
        throw new UserError(
          `loopd (pid ${stale.pid}, per ${loc.home}/daemon.json) does not answer at ${loc.url}; ` +
            `if it is hung, stop it with "kill ${stale.pid}"`,
        );
      }
      if (this.json) this.printJson({ stopped: false, running: false, url: loc.url });
      else this.log(`loopd is not running at ${loc.url}`);
      return;
    }

    const client = createClientFor(loc.url, loc.token);
    // The pid from the daemon itself, since LOOPD_ADDR may point at a daemon with another data dir.
    const status = await client.daemon.status.query();
    await client.daemon.stop.mutate();

    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (pidAlive(status.pid) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (pidAlive(status.pid)) {
      throw new UserError(
        `loopd (pid ${status.pid}) is still running ${STOP_TIMEOUT_MS / 1000} s after the stop request; ` +
          `see ${status.home}/loopd.log, or stop it with "kill ${status.pid}"`,
      );
    }
    if (this.json) this.printJson({ stopped: true, pid: status.pid, url: loc.url });
    else this.log(`loopd stopped (pid ${status.pid})`);
  }
}
