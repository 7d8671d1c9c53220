// loopctl's oclif side in one ES module: dist/bundle/loopctl.js (scripts/bundle.mjs), which
// bin/loopctl.js loads for everything the fast path (cli/fast.ts) does not answer. From the
// per-module output of tsc, oclif would resolve, read and compile ~150 CommonJS files of its own
// plus our command modules on every start (most of a command's ~0.14 s of CPU); one file is
// compiled lazily by V8 and costs a fraction of that (docs/performance.md).
//
// oclif finds commands, the help class and the command_not_found hook in this same module: the
// package.json handed to it below names them with oclif's explicit strategy (a target file and
// the export to take), and importing the bundle again returns this instance. Everything else
// (the command list for help and typos, the plugins' commands) comes from the manifests as before.
// package.json itself keeps the pattern strategy over dist/cli/commands: `oclif manifest` and the
// tests (which run the sources in-process) use that, and the command list below is checked against
// the manifest by test/unit/cli-bundle.test.ts.
import { Config, type Interfaces } from '@oclif/core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Cancel from './commands/cancel.js';
import DaemonInstall from './commands/daemon/install.js';
import DaemonLogs from './commands/daemon/logs.js';
import DaemonRestart from './commands/daemon/restart.js';
import DaemonStart from './commands/daemon/start.js';
import DaemonStatus from './commands/daemon/status.js';
import DaemonStop from './commands/daemon/stop.js';
import DaemonUninstall from './commands/daemon/uninstall.js';
import Dashboard from './commands/dashboard.js';
import Diff from './commands/diff.js';
import Events from './commands/events.js';
import Help from './commands/help.js';
import Hosts from './commands/hosts.js';
import Init from './commands/init.js';
import Inspect from './commands/inspect.js';
import List from './commands/list.js';
import Merge from './commands/merge.js';
import Pause from './commands/pause.js';
import Pr from './commands/pr.js';
import Prompt from './commands/prompt.js';
import Resume from './commands/resume.js';
import Run from './commands/run.js';
import Scrap from './commands/scrap.js';
import Tail from './commands/tail.js';
import Unwatch from './commands/unwatch.js';
import Watch from './commands/watch.js';
import Workspaces from './commands/workspaces.js';
import { main as runOclif } from './main.js';
import { installedPath, packageRoot } from '../core/package-root.js';

export { default as LoopctlHelp } from './help.js';
export { default as commandNotFound } from './hooks/command-not-found.js';

/** Every command by its oclif id: the explicit strategy's export. */
export const COMMANDS = {
  cancel: Cancel,
  'daemon:install': DaemonInstall,
  'daemon:logs': DaemonLogs,
  'daemon:restart': DaemonRestart,
  'daemon:start': DaemonStart,
  'daemon:status': DaemonStatus,
  'daemon:stop': DaemonStop,
  'daemon:uninstall': DaemonUninstall,
  dashboard: Dashboard,
  diff: Diff,
  events: Events,
  help: Help,
  hosts: Hosts,
  init: Init,
  inspect: Inspect,
  list: List,
  merge: Merge,
  pause: Pause,
  pr: Pr,
  prompt: Prompt,
  resume: Resume,
  run: Run,
  scrap: Scrap,
  tail: Tail,
  unwatch: Unwatch,
  watch: Watch,
  workspaces: Workspaces,
};

/**
 * package.json as oclif should see it when running from `bundle` (a path from the package root):
 * the commands, the help class and the hook all taken from that one file.
 */
export function bundledPjson(pjson: Interfaces.PJSON, bundle: string): Interfaces.PJSON {
  const target = `./${bundle}`;
  return {
    ...pjson,
    oclif: {
      ...pjson.oclif,
      commands: { strategy: 'explicit', target, identifier: 'COMMANDS' },
      helpClass: { target, identifier: 'LoopctlHelp' },
      hooks: { command_not_found: { target, identifier: 'commandNotFound' } },
    },
  };
}

/** bin/loopctl.js's oclif route when the bundle is built. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const root = packageRoot();
  const pjson = JSON.parse(readFileSync(installedPath('package.json'), 'utf8')) as Interfaces.PJSON;
  const bundle = fileURLToPath(import.meta.url).slice(root.length + 1);
  const config = await Config.load({ root, pjson: bundledPjson(pjson, bundle) });
  await runOclif(config, argv);
}
