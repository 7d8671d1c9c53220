import { BaseCommand } from '../../base.js';

export default class DaemonUninstall extends BaseCommand {
  static override summary = 'Stop and disable the loopd user service, and remove its unit file.';
  static override description =
    'Undoes "loopctl daemon install". Stopping the service stops loopd only: running agents go on and the next loopd ' +
    '(loopctl daemon start) re-adopts them. The data dir is kept.';
  static override examples = ['<%= config.bin %> daemon uninstall'];

  async run(): Promise<void> {
    await this.parse(DaemonUninstall);
    const { uninstallService, uninstalledLines } = await import('../../service.js');
    const result = uninstallService();
    if (this.json) this.printJson(result);
    else for (const line of uninstalledLines(result)) this.log(line);
  }
}
