import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base.js';

export default class DaemonStop extends BaseCommand {
  static override summary = 'Stop the loopd daemon.';
  static override description =
    'Without --drain the daemon stops at once; agents that are running go on and the next daemon adopts them, so runs ' +
    'resume at the next start. With --drain it first waits for running steps to finish (up to 10 minutes) and starts no new ones. ' +
    'Either way this waits for the daemon process to exit.';
  static override examples = ['<%= config.bin %> daemon stop', '<%= config.bin %> daemon stop --drain'];
  static override flags = {
    drain: Flags.boolean({ description: 'Let running steps finish first (waits up to 10 minutes).', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonStop);
    const { drainingLine, stopDaemon, stoppedLine } = await import('../../daemon-control.js');
    const loc = await this.locate();
    const result = await stopDaemon(loc, {
      drain: flags.drain,
      onRequested: (d, timeoutMs) => {
        if (!flags.drain || this.json) return;
        this.log(drainingLine(d, timeoutMs));
        stopWaitingOnInterrupt(d.pid);
      },
    });
    if (this.json) this.printJson(result);
    else this.log(stoppedLine(result));
  }
}

/** Ctrl-C while draining: stop waiting; the daemon goes on draining and exits by itself. */
export function stopWaitingOnInterrupt(pid: number): void {
  process.once('SIGINT', () => {
    process.stderr.write(`\nstopped waiting; loopd (pid ${pid}) goes on draining and exits when its running steps end\n`);
    process.exit(130);
  });
}
