import { BaseCommand, formatDuration } from '../../base.js';

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
    const counts = Object.entries(status.runs)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s.toLowerCase()}`);
    const rows: [string, string][] = [
      ['pid', String(status.pid)],
      ['address', loc.url],
      ['version', status.version],
      ['uptime', formatDuration(status.uptimeMs)],
      ['home', status.home],
      ['concurrency', `max ${status.maxConcurrency}`],
      ['runs', counts.length > 0 ? counts.join(', ') : 'none'],
      ['containment', `${status.containment.cgroup ? 'cgroup' : 'process group + step nonce'}; agents get no LOOPD_* variables`],
    ];
    this.log('loopd is running');
    for (const [k, v] of rows) this.log(`  ${k.padEnd(12)} ${v}`);
  }
}
