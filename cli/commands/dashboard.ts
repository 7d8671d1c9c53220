import { Flags } from '@oclif/core';
import { BaseCommand } from '../base.js';

export default class Dashboard extends BaseCommand {
  static override summary = 'Open the web dashboard in your browser, signed in with a one-time link.';
  static override description =
    'The daemon serves the dashboard on its own address. The link carries a code that works once, within two minutes, and ' +
    'turns into a session cookie for that browser. --print-url prints the link instead of opening a browser.';
  static override examples = ['<%= config.bin %> dashboard', '<%= config.bin %> dashboard --print-url'];
  static override flags = {
    'print-url': Flags.boolean({ description: 'Print the sign-in link; do not open a browser.', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Dashboard);
    const client = await this.client();
    const { code, expiresAt } = await client.dashboard.signIn.mutate();
    const url = `${this.location!.url}/?code=${encodeURIComponent(code)}`;
    if (this.json) {
      this.printJson({ url, expiresAt });
      return;
    }
    if (flags['print-url']) {
      this.log(url);
      return;
    }
    const opened = await openBrowser(url);
    if (opened) process.stderr.write(`opened the dashboard in your browser (the link works once, for two minutes)\n`);
    else process.stderr.write(`could not start a browser; open this link (it works once, for two minutes):\n`);
    if (!opened) this.log(url);
  }
}

/** Starts the platform's URL opener; true once it runs (it may still fail to find a browser). */
async function openBrowser(url: string): Promise<boolean> {
  const { spawn } = await import('node:child_process');
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  return new Promise((resolve) => {
    const child = spawn(cmd, [url], { detached: true, stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      // A launcher that keeps running must not keep loopctl alive.
      child.unref();
      resolve(true);
    });
  });
}
