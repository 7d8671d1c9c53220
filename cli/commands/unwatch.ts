import { Args } from '@oclif/core';
import { BaseCommand } from '../base.js';
import { escapeControls } from '../text.js';

export default class Unwatch extends BaseCommand {
  static override summary = 'Stop watching a workspace for new specs; runs already started go on.';
  static override examples = ['<%= config.bin %> unwatch', '<%= config.bin %> unwatch ~/src/app'];
  static override args = {
    path: Args.string({ description: 'A directory inside the workspace (default: the current directory).' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Unwatch);
    const { resolve } = await import('node:path');
    const client = await this.client();
    const ws = await client.workspaces.unwatch.mutate({ path: resolve(args.path ?? '.') });
    if (this.json) this.printJson(ws);
    else this.log(`stopped watching ${escapeControls(ws.root)}`);
  }
}
