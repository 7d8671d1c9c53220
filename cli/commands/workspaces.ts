import { BaseCommand, renderTable } from '../base.js';
import { escapeControls } from '../text.js';

export default class Workspaces extends BaseCommand {
  static override summary = 'List the workspaces loopd knows: whether they are watched, their runs and specs.';
  static override description =
    'A workspace is a git repository root that a run was started in or that was watched. SPECS counts the spec files the ' +
    'watcher has seen, by status.';
  static override examples = ['<%= config.bin %> workspaces', '<%= config.bin %> workspaces --json'];

  async run(): Promise<void> {
    await this.parse(Workspaces);
    const client = await this.client();
    const list = await client.workspaces.list.query();
    if (this.json) {
      this.printJson(list);
      return;
    }
    if (list.length === 0) {
      this.log('no workspaces (start a run, or "loopctl watch" one)');
      return;
    }
    const { specCounts } = await import('../workspaces.js');
    const rows = list.map((w) => [escapeControls(w.root), w.watched ? 'yes' : 'no', w.runs, specCounts(w.specs)]);
    this.log(await renderTable(['ROOT', 'WATCHED', 'RUNS', 'SPECS'], rows));
  }
}
