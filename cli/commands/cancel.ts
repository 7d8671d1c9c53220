import { Args } from '@oclif/core';
import { BaseCommand } from '../base.js';
import { paletteFor, runStatusLine } from '../text.js';

export default class Cancel extends BaseCommand {
  static override summary = 'Cancel a run and print its new status.';
  static override examples = ['<%= config.bin %> cancel user-auth'];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Cancel);
    const client = await this.client();
    const run = await client.runs.cancel.mutate({ run: args.run });
    if (this.json) this.printJson(run);
    else this.log(runStatusLine(run, paletteFor(process.stdout)));
  }
}
