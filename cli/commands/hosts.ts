import { Flags } from '@oclif/core';
import { BaseCommand, UserError, renderTable } from '../base.js';

export default class Hosts extends BaseCommand {
  static override summary = 'List the loopd hosts sharing one PostgreSQL database, with their state.';
  static override description =
    'Reads the hosts table of the cluster database (--database-url, else LOOPD_DATABASE_URL). STATE is alive (heartbeat within its ' +
    'lease TTL), lost (silent for longer: its steps are requeued on other hosts) or stopped (shut down cleanly). STEPS counts the ' +
    'steps it holds a lease on now. See docs/scaling.md.';
  static override examples = [
    'LOOPD_DATABASE_URL=postgres://loopd@db.internal/loopd <%= config.bin %> hosts',
    '<%= config.bin %> hosts --database-url postgres://loopd@db.internal/loopd --json',
  ];
  static override flags = {
    'database-url': Flags.string({ description: 'The cluster database (default: LOOPD_DATABASE_URL).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Hosts);
    const url = flags['database-url'] ?? process.env.LOOPD_DATABASE_URL;
    if (!url) {
      throw new UserError('no cluster database: pass --database-url postgres://... or set LOOPD_DATABASE_URL (a single SQLite host has no hosts table)');
    }
    const { openPool, checkDatabaseUrl } = await import('../../host/pg/connect.js');
    const { listHosts } = await import('../../host/pg/hosts.js');
    try {
      checkDatabaseUrl(url);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    const pool = openPool(url, 1);
    let hosts;
    try {
      hosts = await listHosts(pool);
    } catch (e) {
      throw new UserError(`cannot read the hosts of ${redact(url)}: ${(e as Error).message}`);
    } finally {
      await pool.end();
    }
    if (this.json) {
      this.printJson(hosts);
      return;
    }
    if (hosts.length === 0) {
      this.log('no hosts have joined this database yet (start loopd with --database-url on each machine)');
      return;
    }
    const rows = hosts.map((h) => [
      h.hostname,
      h.id,
      h.state,
      `${Math.round(h.heartbeatAgeMs / 1000)}s ago`,
      `${h.runningSteps}/${h.maxConcurrency}`,
      h.agents.join(',') || '-',
      h.workspaces.join(',') || '-',
      h.address ?? '-',
    ]);
    this.log(await renderTable(['HOSTNAME', 'ID', 'STATE', 'HEARTBEAT', 'STEPS', 'AGENTS', 'WORKSPACES', 'ADDRESS'], rows));
  }
}

/** The URL without its password, for error lines. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
