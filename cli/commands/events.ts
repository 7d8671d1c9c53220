import { Args, Flags } from '@oclif/core';
import type { EventView } from '../../router/index.js';
import { BaseCommand } from '../base.js';
import { eventLine } from '../event-format.js';

export default class Events extends BaseCommand {
  static override summary = "Print a run's events, one per line; -f follows new ones until the run ends.";
  static override description = 'Each line: sequence number, time (UTC), type, and a summary of the payload. --json prints one JSON event per line.';
  static override examples = ['<%= config.bin %> events user-auth', '<%= config.bin %> events 01934f2a -f'];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };
  static override flags = {
    follow: Flags.boolean({ char: 'f', description: 'Keep printing new events until the run ends.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Events);
    const client = await this.client();
    const print = (ev: EventView) => {
      if (this.json) this.printJsonLine(ev);
      else this.log(eventLine(ev));
    };

    if (flags.follow) {
      await this.follow<{ id: string; data: EventView }>(
        (h) => client.runs.events.subscribe({ run: args.run, follow: true }, h),
        ({ data }) => print(data),
      );
      return;
    }

    const page = 1000;
    let after = 0;
    for (;;) {
      const batch = await client.runs.eventsList.query({ run: args.run, afterSeq: after, limit: page });
      for (const ev of batch) print(ev);
      const last = batch.at(-1);
      if (!last || batch.length < page) break;
      after = last.seq;
    }
  }
}
