import { Args, Flags } from '@oclif/core';
import type { OutputChunk, TailView } from '../../router/index.js';
import { BaseCommand } from '../base.js';
import { TailWriter } from '../tail-view.js';

export { TailWriter } from '../tail-view.js';

export default class Tail extends BaseCommand {
  static override summary = "Print a run's latest agent output, readable; -f streams it live until the run ends.";
  static override description =
    'Without -f: the last lines of the current (or last) step log. With -f: those lines, then the output of the run as it is ' +
    'written, resuming across daemon restarts, until the run reaches COMPLETED, FAILED or CANCELED. Claude and Codex event ' +
    'streams are rendered for people (assistant text, one line per tool call, short tool results, the final cost), with a header ' +
    'line before each step; --raw prints the exact bytes of the logs instead. --json -f prints one raw output chunk per line, the ' +
    'first being the last lines.';
  static override examples = ['<%= config.bin %> tail user-auth', '<%= config.bin %> tail 01934f2a -f', '<%= config.bin %> tail user-auth -f --raw'];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };
  static override flags = {
    follow: Flags.boolean({ char: 'f', description: 'Stream output until the run ends.', default: false }),
    lines: Flags.integer({ char: 'n', description: 'How many of the last lines to print (before following, with -f).', default: 200, min: 1 }),
    raw: Flags.boolean({ description: 'The exact bytes of the logs: no rendering, no step headers.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Tail);
    const client = await this.client();
    const tail = await client.runs.tail.query({ run: args.run, lines: flags.lines });
    const view = new TailWriter(flags.raw || this.json, (s) => process.stdout.write(s));

    if (!flags.follow) {
      if (this.json) {
        this.printJson(tail);
        return;
      }
      if (!tail || tail.text === '') {
        process.stderr.write(`no output yet for run ${args.run}${tail ? ` (iteration ${tail.iteration}, ${tail.phase})` : ''}\n`);
        return;
      }
      view.write(tail, tail.text);
      view.end();
      return;
    }

    // The last lines first, then the live stream from exactly where they ended (no replay).
    if (tail) {
      if (this.json) {
        const first: OutputChunk = { stepId: tail.stepId, iteration: tail.iteration, phase: tail.phase, offset: tail.offset, chunk: tail.text };
        this.printJsonLine(first);
      } else if (tail.text.length > 0) {
        view.write(tail, tail.text);
      }
    }
    const lastEventId = tail ? resumePoint(tail) : null;
    await this.follow<{ id: string; data: OutputChunk }>(
      (h) => client.runs.output.subscribe({ run: args.run, follow: true, lastEventId }, h),
      ({ data }) => {
        if (this.json) {
          this.printJsonLine(data);
          return;
        }
        if (data.chunk.length === 0) return;
        view.write(data, data.chunk);
      },
    );
    if (!this.json) view.end();
  }
}

/** The runs.output event id right after what runs.tail returned: `<stepId>:<byte offset>`. */
export function resumePoint(tail: Pick<TailView, 'stepId' | 'offset'>): string {
  return `${tail.stepId}:${tail.offset}`;
}
