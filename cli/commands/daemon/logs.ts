import { Flags } from '@oclif/core';
import { BaseCommand, UserError } from '../../base.js';

export default class DaemonLogs extends BaseCommand {
  static override summary = "Print the daemon's log, readably; -f follows it.";
  static override description =
    'The daemon writes one JSON object per line (time, level, msg, runId, stepId, ...) to <data dir>/loopd.log, rotated at ' +
    '10 MB into loopd.log.1 ... loopd.log.5. This prints them as aligned text (--json: as written). A service installed with ' +
    '"daemon install --journal" logs to the systemd journal, which this reads instead.';
  static override examples = [
    '<%= config.bin %> daemon logs',
    '<%= config.bin %> daemon logs -f',
    '<%= config.bin %> daemon logs -n 200 --level warn',
  ];
  static override flags = {
    follow: Flags.boolean({ char: 'f', description: 'Keep printing lines as they are written (Ctrl-C stops).', default: false }),
    lines: Flags.integer({ char: 'n', description: 'How many of the last lines to print first (default 50; 0 with -f: only new ones).', min: 0 }),
    level: Flags.string({ description: 'Only lines at this level or above.', options: ['debug', 'info', 'warn', 'error'] }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonLogs);
    const { atLeastLevel, formatLogLine } = await import('../../log-format.js');
    const print = (line: string): void => {
      if (flags.level && !atLeastLevel(line, flags.level)) return;
      if (this.json) process.stdout.write(`${line}\n`);
      else this.log(formatLogLine(line));
    };
    const n = flags.lines ?? 50;

    const { installedUnitLogsToJournal } = await import('../../service.js');
    if (installedUnitLogsToJournal()) {
      const { readJournal } = await import('../../daemon-logs.js');
      const code = await readJournal({ lines: n, follow: flags.follow }, print);
      if (code !== 0) throw new UserError(`journalctl exited with code ${code}: is the loopd service installed for this user? (loopctl daemon install)`);
      return;
    }

    const { homePaths, loopdHome } = await import('../../../core/home.js');
    const file = homePaths(loopdHome()).daemonLog;
    const fs = await import('node:fs');
    if (!fs.existsSync(file) && !flags.follow) {
      throw new UserError(`no daemon log at ${file}: loopd has not run with this data dir (set LOOPD_HOME to the daemon's data dir)`);
    }
    const { followLog, lastLogLines } = await import('../../daemon-logs.js');
    if (n > 0) for (const line of lastLogLines(file, n)) print(line);
    if (!flags.follow) return;
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    await followLog(file, print, abort.signal);
  }
}
