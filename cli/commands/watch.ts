import { Args } from '@oclif/core';
import { BaseCommand } from '../base.js';

export default class Watch extends BaseCommand {
  static override summary = 'Watch a workspace: a new spec dropped into its specs directory starts a run.';
  static override description =
    'Registers the git repository containing PATH (default: the current directory) with the daemon\'s spec watcher. ' +
    'The specs already there are recorded and do not start runs; a new one does, with its plan when there is one ' +
    '(the watcher waits trigger_plan_wait_sec for it). The daemon remembers watched workspaces across restarts. ' +
    '"loopctl events --workspace" shows what the watcher decided.';
  static override examples = ['<%= config.bin %> watch', '<%= config.bin %> watch ~/src/app --json'];
  static override args = {
    path: Args.string({ description: 'A directory inside the workspace (default: the current directory).' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Watch);
    const { resolve } = await import('node:path');
    const client = await this.client();
    // Absolute here: the daemon resolves paths against its own working directory.
    const ws = await client.workspaces.watch.mutate({ path: resolve(args.path ?? '.') });
    if (this.json) {
      this.printJson(ws);
      return;
    }
    const { watchedLine } = await import('../workspaces.js');
    this.log(await watchedLine(ws));
  }
}
