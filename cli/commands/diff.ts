import { Args, Flags } from '@oclif/core';
import type { RunDiffView } from '../../router/index.js';
import { BaseCommand } from '../base.js';

export default class Diff extends BaseCommand {
  static override summary = "Show a run's changes against the point where it branched off its base.";
  static override description =
    'Prints a per-file summary (status, +added -deleted) and then the patch. --iteration N shows only what that iteration ' +
    'changed (its implementation, review and verification commits). --stat prints the summary only. --json adds the ' +
    'per-iteration diffs.';
  static override examples = ['<%= config.bin %> diff user-auth', '<%= config.bin %> diff user-auth --stat', '<%= config.bin %> diff user-auth --iteration 2'];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };
  static override flags = {
    stat: Flags.boolean({ description: 'Only the per-file summary.', default: false }),
    iteration: Flags.integer({ char: 'i', description: 'Only this iteration’s change.', min: 1 }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Diff);
    const client = await this.client();
    const d = await client.runs.diff.query({ run: args.run, iteration: flags.iteration });
    if (this.json) {
      this.printJson(d);
      return;
    }
    process.stdout.write(renderDiff(d, flags.stat));
  }
}

export function renderDiff(d: RunDiffView, statOnly: boolean): string {
  const scope = d.scope === 'iteration' ? `iteration ${d.iteration} of ${d.runBranch}` : `${d.runBranch} against ${d.baseBranch}`;
  const lines = [`${scope} (${d.from.slice(0, 12)}..${d.to.slice(0, 12)}): ${d.stats.files} file${d.stats.files === 1 ? '' : 's'}, +${d.stats.additions} -${d.stats.deletions}`];
  const width = Math.max(0, ...d.files.map((f) => f.status.length));
  for (const f of d.files) {
    const name = f.oldPath ? `${f.oldPath} -> ${f.path}` : f.path;
    lines.push(`  ${f.status.padEnd(width)}  ${f.binary ? 'binary' : `+${f.additions} -${f.deletions}`}  ${name}`);
  }
  let out = lines.join('\n') + '\n';
  if (!statOnly) {
    for (const f of d.files) {
      if (f.patch === '') continue;
      out += `\n${f.patch.endsWith('\n') ? f.patch : `${f.patch}\n`}`;
      if (f.truncated) out += `... (patch of ${f.path} cut: too large to show)\n`;
    }
  }
  return out;
}
