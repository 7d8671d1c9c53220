// `loopctl daemon install` / `uninstall`: loopd as a systemd user service. The unit file is
// written here; systemctl is asked to reload and enable it. LOOPD_SYSTEMCTL replaces the systemctl
// binary (tests record the calls instead of touching the user's real service manager).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_HOST, DEFAULT_PORT, loopdHome, parseAddr } from '../core/home.js';
import { installedPath } from '../core/package-root.js';
import { UserError } from './base.js';
import { renderSystemdUnit, UNIT_NAME, unitLogsToJournal, type UnitSpec } from './service-unit.js';

export function unitPath(env: NodeJS.ProcessEnv = process.env): string {
  const config = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.trim() !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(config, 'systemd', 'user', UNIT_NAME);
}

export interface SystemctlResult {
  ok: boolean;
  output: string;
}

export type Systemctl = (args: string[]) => SystemctlResult;

export function realSystemctl(env: NodeJS.ProcessEnv = process.env): Systemctl {
  const bin = env.LOOPD_SYSTEMCTL && env.LOOPD_SYSTEMCTL.trim() !== '' ? env.LOOPD_SYSTEMCTL : 'systemctl';
  return (args) => {
    const r = spawnSync(bin, ['--user', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.error) return { ok: false, output: r.error.message };
    return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
  };
}

/** "Failed to connect to bus" and friends: no user manager here (a container, ssh without lingering, CI). */
export function noUserManager(output: string): boolean {
  return /Failed to connect to (user scope )?bus|No medium found|\$DBUS_SESSION_BUS_ADDRESS|XDG_RUNTIME_DIR|not been booted with systemd|ENOENT/i.test(output);
}

export interface InstallOptions {
  addr?: string | undefined;
  maxConcurrency?: number | undefined;
  journal: boolean;
  now: boolean;
  systemctl?: Systemctl;
  env?: NodeJS.ProcessEnv;
}

export interface InstallResult {
  unit: string;
  home: string;
  addr: string;
  log: string;
  node: string;
  /** Whether systemctl enabled it; false with `reason` when there is no user service manager. */
  enabled: boolean;
  started: boolean;
  reason?: string;
}

export function buildUnitSpec(opts: InstallOptions): UnitSpec {
  const env = opts.env ?? process.env;
  const addrText = opts.addr ?? (env.LOOPD_ADDR && env.LOOPD_ADDR.trim() !== '' ? env.LOOPD_ADDR : `${DEFAULT_HOST}:${DEFAULT_PORT}`);
  const { host, port } = parseAddr(addrText);
  if (port === 0) throw new UserError('a service needs a fixed port for loopctl to find it: pass --addr HOST:PORT with a port other than 0');
  const loopdScript = installedPath('bin', 'loopd.js');
  if (!fs.existsSync(loopdScript)) throw new UserError(`cannot find the daemon launcher at ${loopdScript}`);
  return {
    // The Node running this CLI: the launcher already chose the bundled one or a system Node >= 24.15.
    node: process.execPath,
    loopdScript,
    home: resolve(loopdHome(env)),
    addr: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    maxConcurrency: opts.maxConcurrency,
    log: opts.journal ? 'journal' : 'file',
    path: env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  };
}

function requireLinux(): void {
  if (process.platform !== 'linux') {
    throw new UserError(`daemon install writes a systemd user unit; loopd runs on Linux only (this is ${process.platform})`);
  }
}

export function installService(opts: InstallOptions): InstallResult {
  requireLinux();
  const env = opts.env ?? process.env;
  const spec = buildUnitSpec(opts);
  const path = unitPath(env);
  fs.mkdirSync(spec.home, { recursive: true, mode: 0o700 });
  fs.mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  fs.writeFileSync(tmp, renderSystemdUnit(spec), { mode: 0o644 });
  fs.renameSync(tmp, path);
  const result: InstallResult = {
    unit: path,
    home: spec.home,
    addr: spec.addr,
    log: spec.log === 'journal' ? 'journal' : join(spec.home, 'loopd.log'),
    node: spec.node,
    enabled: false,
    started: false,
  };
  const systemctl = opts.systemctl ?? realSystemctl(env);
  const reload = systemctl(['daemon-reload']);
  if (!reload.ok) {
    if (noUserManager(reload.output)) return { ...result, reason: firstLineOf(reload.output) };
    throw new UserError(`wrote ${path}, but "systemctl --user daemon-reload" failed: ${firstLineOf(reload.output)}`);
  }
  const enable = systemctl(opts.now ? ['enable', '--now', UNIT_NAME] : ['enable', UNIT_NAME]);
  if (!enable.ok) throw new UserError(`wrote ${path}, but "systemctl --user enable${opts.now ? ' --now' : ''} ${UNIT_NAME}" failed: ${firstLineOf(enable.output)}`);
  return { ...result, enabled: true, started: opts.now };
}

export interface UninstallResult {
  unit: string;
  removed: boolean;
  /** Whether systemctl disabled and stopped it; false with `reason` when there is no user service manager. */
  disabled: boolean;
  reason?: string;
}

export function uninstallService(opts: { systemctl?: Systemctl; env?: NodeJS.ProcessEnv } = {}): UninstallResult {
  requireLinux();
  const env = opts.env ?? process.env;
  const path = unitPath(env);
  if (!fs.existsSync(path)) return { unit: path, removed: false, disabled: false, reason: 'no loopd service is installed' };
  const systemctl = opts.systemctl ?? realSystemctl(env);
  // Stops the daemon only (KillMode=process): running agents are re-adopted by the next loopd.
  const disable = systemctl(['disable', '--now', UNIT_NAME]);
  let reason: string | undefined;
  if (!disable.ok) {
    if (!noUserManager(disable.output)) throw new UserError(`"systemctl --user disable --now ${UNIT_NAME}" failed: ${firstLineOf(disable.output)}`);
    reason = firstLineOf(disable.output);
  }
  fs.rmSync(path, { force: true });
  if (disable.ok) systemctl(['daemon-reload']);
  return { unit: path, removed: true, disabled: disable.ok, ...(reason ? { reason } : {}) };
}

/** Whether the installed unit sends the log to the journal rather than to <home>/loopd.log. */
export function installedUnitLogsToJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    return unitLogsToJournal(fs.readFileSync(unitPath(env), 'utf8'));
  } catch {
    return false;
  }
}

function firstLineOf(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'no output';
}

export function installedLines(r: InstallResult): string[] {
  const lines = [`wrote ${r.unit} (loopd on ${r.addr}, data dir ${r.home}, log ${r.log === 'journal' ? 'to the journal' : r.log})`];
  if (r.enabled) {
    lines.push(r.started ? 'enabled and started: systemctl --user status loopd' : 'enabled: it starts at your next login, or now with "systemctl --user start loopd"');
  } else {
    lines.push(
      `not enabled: no systemd user session here (${r.reason ?? 'systemctl --user failed'}); ` +
        'in a login session run "systemctl --user daemon-reload && systemctl --user enable --now loopd"',
    );
  }
  return lines;
}

export function uninstalledLines(r: UninstallResult): string[] {
  if (!r.removed) return [`no loopd service is installed (${r.unit} does not exist)`];
  const lines = [`removed ${r.unit}`];
  lines.push(
    r.disabled
      ? 'the service is stopped and disabled; running agents are left for the next loopd to re-adopt'
      : `the unit was not disabled: no systemd user session here (${r.reason ?? 'systemctl --user failed'})`,
  );
  return lines;
}
