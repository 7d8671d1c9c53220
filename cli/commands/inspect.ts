import { Args } from '@oclif/core';
import { BaseCommand } from '../base.js';
import { renderDetail } from '../inspect-view.js';

export { pauseReasonText, stepCost } from '../inspect-view.js';

export default class Inspect extends BaseCommand {
  static override summary = 'Show everything about one run: state, branches, paths, artifacts, cost and steps.';
  static override examples = ['<%= config.bin %> inspect 01934f2a', '<%= config.bin %> inspect user-auth --json'];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Inspect);
    const client = await this.client();
    const r = await client.runs.get.query({ run: args.run });
    if (this.json) {
      this.printJson(r);
      return;
    }
    for (const line of await renderDetail(r)) this.log(line);
  }
}
