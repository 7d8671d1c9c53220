import { Args } from '@oclif/core';
import { BaseCommand } from '../base.js';
import { buildCreateInput, CONFIG_PRECEDENCE, runConfigFlags } from '../run-flags.js';

export default class Prompt extends BaseCommand {
  static override summary = 'Print the exact prompt the first iteration of such a run would get; creates nothing.';
  static override description =
    'Takes the same spec, plan and config flags as "loopctl run". Only the prompt goes to stdout (warnings go to stderr), ' +
    'so it can be piped or diffed; --json prints it with the workspace, spec, plan and worktree paths it was made for. ' +
    CONFIG_PRECEDENCE;
  static override examples = [
    '<%= config.bin %> prompt specs/user-auth.md',
    '<%= config.bin %> prompt specs/user-auth.md --set prompt_file=.loop/strict-prompt.txt | less',
    '<%= config.bin %> prompt specs/user-auth.md specs/planning/user-auth-plan.md --json',
  ];
  static override args = {
    spec: Args.string({ description: 'The spec file (what to build).', required: true }),
    plan: Args.string({ description: 'The plan file (markdown checklist); default derived from the spec name.' }),
  };
  static override flags = { ...runConfigFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Prompt);
    const input = await buildCreateInput(args, flags, process.cwd());
    const client = await this.client();
    const preview = await client.runs.prompt.query(input);
    if (this.json) {
      this.printJson(preview);
      return;
    }
    for (const w of preview.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(preview.prompt);
  }
}
