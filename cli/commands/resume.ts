import { Args, Flags } from '@oclif/core';
import { BaseCommand, UserError } from '../base.js';
import { paletteFor, runStatusLine } from '../text.js';

export default class Resume extends BaseCommand {
  static override summary = 'Resume a paused run and print its new status.';
  static override description =
    'A run paused by max_cost_usd goes on without pausing again; pass --max-cost-usd to set a new budget (0 = no limit).';
  static override examples = ['<%= config.bin %> resume user-auth', '<%= config.bin %> resume user-auth --max-cost-usd 20'];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };
  static override flags = {
    'max-cost-usd': Flags.string({ description: 'New spending cap for the run in USD (0 = no limit).' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Resume);
    let maxCostUsd: number | undefined;
    if (flags['max-cost-usd'] !== undefined) {
      maxCostUsd = Number(flags['max-cost-usd']);
      if (!Number.isFinite(maxCostUsd) || maxCostUsd < 0) throw new UserError(`invalid --max-cost-usd "${flags['max-cost-usd']}": expected a number >= 0 (0 = no limit)`);
    }
    const client = await this.client();
    const run = await client.runs.resume.mutate({ run: args.run, maxCostUsd });
    if (this.json) this.printJson(run);
    else this.log(runStatusLine(run, paletteFor(process.stdout), maxCostUsd !== undefined ? ` (budget now $${maxCostUsd.toFixed(2)})` : ''));
  }
}
