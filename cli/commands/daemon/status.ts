import { BaseCommand } from '../../base.js';
import { statusLines } from '../../status-view.js';

export default class DaemonStatus extends BaseCommand {
  static override summary = 'Show whether loopd is running, and its pid, address, uptime and run counts.';
  static override description = 'Exits 1 when the daemon is not running.';
  static override examples = ['<%= config.bin %> daemon status', '<%= config.bin %> daemon status --json'];

  async run(): Promise<void> {
    await this.parse(DaemonStatus);
    const { createClientFor, probeHealth } = await import('../../client.js');
    const loc = await this.locate();

    if (!(await probeHealth(loc.url, 1000))) {
      if (this.json) this.printJson({ running: false, url: loc.url, home: loc.home });
      else this.log(`loopd is not running (nothing answers at ${loc.url})`);
      this.exit(1);
    }

    const status = await createClientFor(loc.url, loc.token).daemon.status.query();
    if (this.json) {
      this.printJson({ running: true, url: loc.url, ...status });
      return;
    }
    for (const line of statusLines(loc.url, status)) this.log(line);
  }
}
