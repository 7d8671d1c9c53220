import { BaseCommand } from '../base.js';

export default class Init extends BaseCommand {
  static override summary = 'Prepare the current git repository for loopd.';
  static override description =
    'In the root of the git repository containing the current directory: writes .loop/config (unless it exists), ' +
    'creates specs/planning/, and adds logs/loop/ to .gitignore. Does not need the daemon.';
  static override examples = ['<%= config.bin %> init'];

  async run(): Promise<void> {
    await this.parse(Init);
    const { initWorkspace } = await import('../init.js');
    const result = await initWorkspace(process.cwd());
    if (this.json) {
      this.printJson(result);
      return;
    }
    this.log(`loopd workspace: ${result.root}`);
    for (const s of result.steps) this.log(`  ${s.action.padEnd(8)} ${s.path.padEnd(17)} ${s.detail}`);
  }
}
