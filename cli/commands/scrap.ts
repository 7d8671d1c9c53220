import { Args } from '@oclif/core';
import { BaseCommand } from '../base.js';
import { actionLine, cliActor } from '../review.js';

export default class Scrap extends BaseCommand {
  static override summary = "Throw a finished run's work away: delete its branch and worktree, keep its record and logs.";
  static override description =
    'The run stays in loopctl list and inspect with its events, artifacts and cost, marked scrapped. A merged run cannot be ' +
    'scrapped; scrapping a scrapped run changes nothing.';
  static override examples = ['<%= config.bin %> scrap user-auth'];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Scrap);
    const client = await this.client();
    const r = await client.runs.scrap.mutate({ run: args.run, actor: cliActor() });
    if (this.json) this.printJson(r);
    else this.log(actionLine(r));
  }
}
