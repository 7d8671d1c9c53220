import { Args, Flags } from '@oclif/core';
import type { EventView, RunDetail } from '../../router/index.js';
import { BaseCommand } from '../base.js';
import { describeEvent, isRoutine } from '../event-format.js';
import { buildCreateInput, CONFIG_PRECEDENCE, runConfigFlags } from '../run-flags.js';

export default class Run extends BaseCommand {
  static override summary = 'Start a run of an agent loop against a spec (and plan).';
  static override description =
    'Creates a run in its own git worktree and branch. Without a plan, the plan is <plans_dir>/<spec name>-plan.md. ' +
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

    if (!flags.wait) {
      if (this.json) this.printJson(run);
      else this.log(`run ${run.id} (${run.name}) created: branch ${run.runBranch}, worktree ${run.worktreePath}`);
      return;
    }

    if (!this.json) {
      this.log(`run ${run.id} (${run.name}) created: branch ${run.runBranch}, worktree ${run.worktreePath}`);
      process.once('SIGINT', () => {
        process.stderr.write(`\nstopped waiting; the run goes on in loopd (loopctl cancel ${run.id} to stop it)\n`);
        process.exit(130);
      });
    }

    await this.follow<{ id: string; data: EventView }>(
      (h) => client.runs.events.subscribe({ run: run.id, follow: true }, h),
      ({ data }) => {
        if (this.json || isRoutine(data)) return;
        this.log(describeEvent(data));
        if (data.type === 'RUN_PAUSED') {
          process.stderr.write(`run paused; still waiting: "loopctl resume ${run.id}" continues it, Ctrl-C stops waiting\n`);
        }
      },
    );

    const final: RunDetail = await client.runs.get.query({ run: run.id });
    if (this.json) this.printJson(final);
    else this.log(finalLine(final));
    if (final.status !== 'COMPLETED') this.exit(1);
  }
}

function finalLine(r: RunDetail): string {
  const tasks = r.tasksTotal !== null ? `, tasks ${r.tasksDone ?? 0}/${r.tasksTotal}` : '';
  const head = `run ${r.id} (${r.name}) ${r.status} after ${r.iteration} iteration${r.iteration === 1 ? '' : 's'}${tasks}`;
  if (r.status === 'COMPLETED') {
    return r.mergeTargetBranch && r.mergeStrategy !== 'none' ? `${head}; merged into ${r.mergeTargetBranch} (${r.mergeStrategy})` : head;
  }
  const reason = r.exitReason ?? 'no exit reason recorded';
  const error = r.lastError && r.lastError !== reason ? ` (${r.lastError})` : '';
  return `${head}: ${reason}${error}`;
}
