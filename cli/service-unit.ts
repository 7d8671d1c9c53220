// The systemd user unit that runs loopd as a service. Pure: everything it needs comes in, the
// text goes out, so tests can check it line by line and with systemd-analyze verify.
import { DAEMON_NODE_FLAGS } from '../host/node-flags.js';

export const UNIT_NAME = 'loopd.service';

export interface UnitSpec {
  /** The Node binary (the bundled one or a system Node >= 24.15). */
  node: string;
  /** bin/loopd.js of this install. */
  loopdScript: string;
  home: string;
  /** HOST:PORT */
  addr: string;
  maxConcurrency?: number | undefined;
  /** 'file': <home>/loopd.log, rotated (loopctl daemon logs); 'journal': stdout, kept by journald. */
  log: 'file' | 'journal';
  /** PATH for the daemon and so for its agents: a user manager's default PATH lacks ~/.local/bin and the like. */
  path: string;
}

/** One word of a systemd command line or assignment: specifiers (%) and variables ($) kept literal. */
export function systemdQuote(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A path setting (WorkingDirectory=) is taken literally up to the line end: only specifiers need escaping. */
export function systemdPath(path: string): string {
  return path.replace(/%/g, '%%');
}

function checkValues(spec: UnitSpec): void {
  for (const [what, v] of [['node', spec.node], ['loopd script', spec.loopdScript], ['data dir', spec.home], ['PATH', spec.path]] as const) {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(v)) throw new Error(`the ${what} ${JSON.stringify(v)} contains a control character, which a unit file cannot hold`);
  }
}

export function loopdArgs(spec: UnitSpec): string[] {
  const args = [spec.node, ...DAEMON_NODE_FLAGS, spec.loopdScript, '--home', spec.home, '--addr', spec.addr];
  if (spec.maxConcurrency !== undefined) args.push('--max-concurrency', String(spec.maxConcurrency));
  if (spec.log === 'journal') args.push('--log', '-');
  return args;
}

export function renderSystemdUnit(spec: UnitSpec): string {
  checkValues(spec);
  return [
    '# Written by "loopctl daemon install"; "loopctl daemon uninstall" removes it.',
    '[Unit]',
    'Description=loopd: runs AI coding agents in loops (loopctl)',
    // A daemon that cannot start (port taken, data dir in use) must not be restarted forever.
    'StartLimitIntervalSec=60',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${loopdArgs(spec).map(systemdQuote).join(' ')}`,
    `WorkingDirectory=${systemdPath(spec.home)}`,
    `Environment=${systemdQuote(`LOOPD_HOME=${spec.home}`)}`,
    `Environment=${systemdQuote(`PATH=${spec.path}`)}`,
    'Restart=on-failure',
    'RestartSec=2',
    // Agents run detached in their own process groups and outlive the daemon; the next daemon
    // re-adopts them. Stopping the service (an upgrade) must stop loopd only, not the agents.
    'KillMode=process',
    'TimeoutStopSec=30',
    ...(spec.log === 'journal' ? ['StandardOutput=journal', 'StandardError=journal'] : []),
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

/** What an installed unit says about where loopd logs, for `loopctl daemon logs`. */
export function unitLogsToJournal(unitText: string): boolean {
  const exec = unitText.split('\n').find((l) => l.startsWith('ExecStart='));
  return exec !== undefined && / --log -( |$)/.test(exec);
}
