import { Args, Flags } from '@oclif/core';
import { AGENT_KINDS, COMPLETION_MODES, MERGE_STRATEGIES } from '../../core/types.js';
import type { EventView, RunDetail } from '../../router/index.js';
import { BaseCommand, describeEvent, UserError } from '../base.js';

export default class Run extends BaseCommand {
  static override summary = 'Start a run of an agent loop against a spec (and plan).';
  static override description =
    'Creates a run in its own git worktree and branch. Without a plan, the plan is <plans_dir>/<spec name>-plan.md. ' +
    'Flags override --config FILE, which overrides LOOP_CONFIG, which overrides .loop/config.';
  static override examples = [
    '<%= config.bin %> run specs/user-auth.md',
    '<%= config.bin %> run specs/user-auth.md specs/planning/user-auth-plan.md --iterations 10 --wait',
    '<%= config.bin %> run specs/x.md --agent command --agent-cmd "node fake-agent.mjs" --merge-strategy none',
  ];
  static override args = {
    spec: Args.string({ description: 'The spec file (what to build).', required: true }),
    plan: Args.string({ description: 'The plan file (markdown checklist); default derived from the spec name.' }),
  };
  static override flags = {
    agent: Flags.string({ description: 'Agent for implementation.', options: [...AGENT_KINDS] }),
    'agent-cmd': Flags.string({ description: 'Command line for --agent command.' }),
    iterations: Flags.integer({ description: 'Maximum iterations before the run fails.', min: 1 }),
    model: Flags.string({ description: 'Model passed to the agent.' }),
    name: Flags.string({ description: 'Run name (default from the spec name).' }),
    'merge-target': Flags.string({ description: 'Branch to merge the finished run into.' }),
    'merge-strategy': Flags.string({ description: 'How to merge into the target.', options: [...MERGE_STRATEGIES] }),
    'base-branch': Flags.string({ description: 'Branch the run starts from.' }),
    config: Flags.string({ description: 'A config file (key=value lines) layered over LOOP_CONFIG and .loop/config.' }),
    'completion-mode': Flags.string({ description: 'How the completion token is recognised.', options: [...COMPLETION_MODES] }),
    wait: Flags.boolean({ description: 'Follow the run until it ends; exit 0 only if it COMPLETED.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Run);
    const { existsSync, statSync } = await import('node:fs');
    const { resolve } = await import('node:path');

    const cwd = process.cwd();
    const mustExist = (what: string, given: string): string => {
      const abs = resolve(cwd, given);
      if (!existsSync(abs)) throw new UserError(`${what} not found: ${given}`);
      if (!statSync(abs).isFile()) throw new UserError(`${what} is not a file: ${given}`);
      return abs;
    };
    const spec = mustExist('spec file', args.spec);
    const plan = args.plan === undefined ? undefined : mustExist('plan file', args.plan);
    const configFile = flags.config === undefined ? undefined : mustExist('config file', flags.config);

    const configFlags: Record<string, string | number | boolean> = {};
    const set = (key: string, value: string | number | undefined) => {
      if (value !== undefined) configFlags[key] = value;
    };
    set('agent', flags.agent);
    set('agent_cmd', flags['agent-cmd']);
    set('iterations', flags.iterations);
    set('model', flags.model);
    set('merge_target_branch', flags['merge-target']);
    set('merge_strategy', flags['merge-strategy']);
    set('base_branch', flags['base-branch']);
    set('completion_mode', flags['completion-mode']);

    const client = await this.client();
    const run = await client.runs.create.mutate({
      cwd,
      spec,
      plan,
      configFile,
      loopConfig: process.env.LOOP_CONFIG,
      flags: configFlags,
      name: flags.name,
      origin: 'cli',
    });

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
        if (!this.json) this.log(describeEvent(data));
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
