import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base.js';
import { actionLine, cliActor } from '../review.js';

export default class Pr extends BaseCommand {
  static override summary = "Push a finished run's branch and open a pull request with the GitHub CLI (gh).";
  static override description =
    "Needs gh installed and logged in (gh auth login) for the user the daemon runs as, and a git remote. The pull request " +
    "goes from the run branch into the run's base branch (--into target: its merge target). Asking again prints the open one.";
  static override examples = ['<%= config.bin %> pr user-auth', '<%= config.bin %> pr user-auth --draft --remote upstream'];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };
  static override flags = {
    remote: Flags.string({ description: 'The git remote to push to.', default: 'origin' }),
    into: Flags.string({ description: "The pull request's base: the run's base branch or its merge target.", options: ['base', 'target'] }),
    title: Flags.string({ description: 'Title of the pull request (default "loopd: <run name>").' }),
    draft: Flags.boolean({ description: 'Open it as a draft.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Pr);
    const client = await this.client();
    const r = await client.runs.createPr.mutate({
      run: args.run,
      remote: flags.remote,
      into: flags.into as 'base' | 'target' | undefined,
      title: flags.title,
      draft: flags.draft,
      actor: cliActor(),
    });
    if (this.json) this.printJson(r);
    else this.log(actionLine(r));
  }
}
