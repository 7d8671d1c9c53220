import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base.js';
import { actionLine, cliActor } from '../review.js';

export default class Merge extends BaseCommand {
  static override summary = "Merge a finished run's branch into its merge target (or base branch) without touching any checkout.";
  static override description =
    'For a run whose automatic merge was off (merge_strategy=none) or failed. Uses git plumbing only, like the run\'s own ' +
    'merge: your checkout, its branch and its uncommitted work stay as they are, and a target that is checked out somewhere ' +
    'is refused. Merging a run that is already merged changes nothing.';
  static override examples = [
    '<%= config.bin %> merge user-auth',
    '<%= config.bin %> merge user-auth --into base --strategy merge',
    '<%= config.bin %> merge user-auth --target release/next',
  ];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };
  static override flags = {
    into: Flags.string({ description: "Merge into the run's merge target (default when it has one) or its base branch.", options: ['target', 'base'] }),
    target: Flags.string({ description: 'Merge into this branch instead (created from the base branch when missing).' }),
    strategy: Flags.string({ description: "squash (one commit) or merge (a merge commit); default: the run's merge_strategy, else squash.", options: ['squash', 'merge'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Merge);
    const client = await this.client();
    const r = await client.runs.merge.mutate({
      run: args.run,
      into: flags.into as 'target' | 'base' | undefined,
      target: flags.target,
      strategy: flags.strategy as 'squash' | 'merge' | undefined,
      actor: cliActor(),
    });
    if (this.json) this.printJson(r);
    else this.log(actionLine(r));
  }
}
