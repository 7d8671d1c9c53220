import { Args, Flags } from '@oclif/core';
import type { OutputChunk, TailView } from '../../router/index.js';
import { BaseCommand, formatTime } from '../base.js';
import type { LoopClient } from '../client.js';
import { TailWriter } from '../tail-view.js';

export { TailWriter } from '../tail-view.js';

export default class Tail extends BaseCommand {
  static override summary = "Print a run's latest agent output, readable; -f streams it live until the run ends.";
  static override description =
    'Without -f: the last lines of the current (or last) step log. With -f: those lines, then the output of the run as it is ' +
    'written, resuming across daemon restarts, until the run reaches COMPLETED, FAILED or CANCELED. Claude and Codex event ' +
    'streams are rendered for people (assistant text, one line per tool call, short tool results, the final cost), with a header ' +
    'line before each step; --raw prints the exact bytes of the logs instead. --json -f prints one raw output chunk per line, the ' +
    'first being the last lines. --since WHEN prints the whole output of every step that was running at or after WHEN (a ' +
    'duration back from now like 10m, or a time like 14:05) instead of the last lines, then follows with -f.';
  static override examples = [
    '<%= config.bin %> tail user-auth',
    '<%= config.bin %> tail 01934f2a -f',
    '<%= config.bin %> tail user-auth -f --raw',
    '<%= config.bin %> tail user-auth -n 50',
    '<%= config.bin %> tail user-auth --since 10m',
  ];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name.', required: true }),
  };
  static override flags = {
    follow: Flags.boolean({ char: 'f', description: 'Stream output until the run ends.', default: false }),
    lines: Flags.integer({
      char: 'n',
      aliases: ['last'],
      description: 'How many of the last lines to print (before following, with -f).',
      default: 200,
      min: 1,
    }),
    since: Flags.string({
      description: 'Instead of the last lines: all output of the steps running at or after WHEN (10m, 1h, 14:05, ISO 8601).',
      helpValue: 'WHEN',
      exclusive: ['lines'],
    }),
    raw: Flags.boolean({ description: 'The exact bytes of the logs: no rendering, no step headers.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Tail);
    const since = flags.since === undefined ? undefined : (await import('../event-window.js')).parseSince(flags.since);
    const client = await this.client();
    const view = new TailWriter(flags.raw || this.json, (s) => process.stdout.write(s));
    if (since !== undefined) {
      await this.outputSince(client, args.run, since, flags.follow, view);
      return;
    }
    const tail = await client.runs.tail.query({ run: args.run, lines: flags.lines });

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
    await this.stream(client, args.run, true, lastEventId, view);
  }

  /** Streams output from a resume point (null: from now), as JSON lines or through the view. */
  private async stream(client: LoopClient, run: string, follow: boolean, lastEventId: string | null, view: TailWriter): Promise<void> {
    await this.follow<{ id: string; data: OutputChunk }>(
      (h) => client.runs.output.subscribe({ run, follow, lastEventId }, h),
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

  /** Whole output of the steps running at or after `since`, from a resume point at their start. */
  private async outputSince(client: LoopClient, run: string, since: number, follow: boolean, view: TailWriter): Promise<void> {
    const detail = await client.runs.get.query({ run });
    const first = detail.steps.find((s) => s.outputPath !== null && (s.endedAt === null || s.endedAt >= since));
    if (!first && !follow) {
      process.stderr.write(`no output since ${formatTime(since)} for run ${run}\n`);
      return;
    }
    // A resume point at byte 0 of the first such step streams it whole, then every later step.
    const start = first ? { stepId: first.id, offset: 0 } : { stepId: (detail.steps.at(-1)?.id ?? 0) + 1, offset: 0 };
    await this.stream(client, detail.id, follow, resumePoint(start), view);
  }
}

/** The runs.output event id right after what runs.tail returned: `<stepId>:<byte offset>`. */
export function resumePoint(tail: Pick<TailView, 'stepId' | 'offset'>): string {
  return `${tail.stepId}:${tail.offset}`;
}
