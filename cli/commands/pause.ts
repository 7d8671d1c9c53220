import { Args } from '@oclif/core';
import { BaseCommand } from '../base.js';
import { paletteFor, runStatusLine } from '../text.js';

export default class Pause extends BaseCommand {
  static override summary = 'Pause a run and print its new status.';
  static override description =
    'The step in progress finishes; no further step starts until "loopctl resume". A paused run keeps its worktree and branch.';
  static override examples = ['<%= config.bin %> pause user-auth'];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Pause);
    const client = await this.client();
    const run = await client.runs.pause.mutate({ run: args.run });
    if (this.json) this.printJson(run);
    else this.log(runStatusLine(run, paletteFor(process.stdout)));
  }
}
