import { Args, Flags } from '@oclif/core';
import type { EventView, RunDetail } from '../../router/index.js';
import { BaseCommand } from '../base.js';
import { EventColumns, isRoutine } from '../event-format.js';
import { LiveProgress } from '../progress.js';
import { buildCreateInput, CONFIG_PRECEDENCE, runConfigFlags } from '../run-flags.js';
import { escapeControls, paletteFor, runLabel, type Palette } from '../text.js';

export default class Run extends BaseCommand {
  static override summary = 'Start a run of an agent loop against a spec (and plan).';
  static override description =
    'Creates a run in its own git worktree and branch. Without a plan, the plan is <plans_dir>/<spec name>-plan.md. ' +
    'With --wait on a terminal, a status line under the events shows the phase, iteration, a bar of tasks ' +
    'reviewed/done/total, the elapsed time and the cost, updated in place; off a terminal the events print as plain lines. ' +
    CONFIG_PRECEDENCE;
  static override examples = [
    '<%= config.bin %> run specs/user-auth.md',
    '<%= config.bin %> run specs/user-auth.md specs/planning/user-auth-plan.md --iterations 10 --wait',
    '<%= config.bin %> run specs/x.md --agent command --agent-cmd "node fake-agent.mjs" --merge-strategy none',
    '<%= config.bin %> run specs/x.md --no-reviewer --verify-cmds "npm test|npm run lint" --max-cost-usd 5',
    '<%= config.bin %> run specs/x.md --set claude_retries=0 --set verify_timeout_sec=120',
  ];
  static override args = {
    spec: Args.string({ description: 'The spec file (what to build).', required: true }),
    plan: Args.string({ description: 'The plan file (markdown checklist); default derived from the spec name.' }),
  };
  static override flags = {
    ...runConfigFlags,
    wait: Flags.boolean({ description: 'Follow the run until it ends; exit 0 only if it COMPLETED.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Run);
    const input = await buildCreateInput(args, flags, process.cwd());
    const client = await this.client();
    const run = await client.runs.create.mutate(input);
    const created = `${runLabel(run)} created: branch ${escapeControls(run.runBranch)}, worktree ${escapeControls(run.worktreePath)}`;

    if (!flags.wait) {
      if (this.json) this.printJson(run);
      else this.log(created);
      return;
    }

    const colors = paletteFor(process.stdout);
    // A dumb terminal cannot erase a line: plain lines there too.
    const live = !this.json && process.stdout.isTTY === true && process.env.TERM !== 'dumb' ? new LiveProgress(process.stdout, colors) : null;
    const columns = new EventColumns(this.json ? null : colors);
    const print = (line: string) => (live ? live.log(line) : this.log(line));
    if (!this.json) {
      this.log(created);
      process.once('SIGINT', () => {
        live?.stop();
        process.stderr.write(`\nstopped waiting; the run goes on in loopd (loopctl cancel ${run.id} to stop it)\n`);
        process.exit(130);
      });
    }

    // The status line reads the run itself (tasks, cost) after events, one query at a time.
    let refreshing = false;
    let again = false;
    const refresh = () => {
      if (!live) return;
      if (refreshing) {
        again = true;
        return;
      }
      refreshing = true;
      client.runs.get
        .query({ run: run.id })
        .then((r) => live.update(r))
        .catch(() => undefined)
        .finally(() => {
          refreshing = false;
          if (again) {
            again = false;
            refresh();
          }
        });
    };
    if (live) {
      live.update(run);
      live.start();
    }

    try {
      await this.follow<{ id: string; data: EventView }>(
        (h) => client.runs.events.subscribe({ run: run.id, follow: true }, h),
        ({ data }) => {
          if (this.json) return;
          refresh();
          if (isRoutine(data)) return;
          print(columns.waitLine(data));
          if (data.type === 'RUN_PAUSED') {
            const note = `run paused; still waiting: "loopctl resume ${run.id}" continues it, Ctrl-C stops waiting`;
            if (live) live.log(colors.warn(note));
            else process.stderr.write(`${note}\n`);
          }
        },
      );
    } finally {
      live?.stop();
    }

    const final: RunDetail = await client.runs.get.query({ run: run.id });
    if (this.json) this.printJson(final);
    else this.log(finalLine(final, colors));
    if (final.status !== 'COMPLETED') this.exit(1);
  }
}

export function finalLine(r: RunDetail, colors: Palette): string {
  const tasks = r.tasksTotal !== null ? `, tasks ${r.tasksDone ?? 0}/${r.tasksTotal}` : '';
  const head = `${runLabel(r)} ${colors.status(r.status)} after ${r.iteration} iteration${r.iteration === 1 ? '' : 's'}${tasks}`;
  if (r.status === 'COMPLETED') {
    return r.mergeTargetBranch && r.mergeStrategy !== 'none' ? `${head}; merged into ${escapeControls(r.mergeTargetBranch)} (${r.mergeStrategy})` : head;
  }
  const reason = r.exitReason ?? 'no exit reason recorded';
  const error = r.lastError && r.lastError !== reason ? ` (${r.lastError})` : '';
  return `${head}: ${escapeControls(`${reason}${error}`)}`;
}
