// Shared start-up for bin/loopd.js and bin/loopctl.js. Plain JS with conservative syntax: its whole
// job is to run on an old system Node (the machines here have Node 20) and hand over to the Node 24
// that the repo pins as a dev dependency, so it must parse there.
// node:child_process and node:os are imported only to relaunch: every command pays for what is
// imported here, and the usual start (bin/loopctl picked the Node) never relaunches.
// The other built-ins are required, not imported: an ES import of node:fs builds its whole export
// namespace, which loads fs/promises and its streams (~3 ms of CPU on every loopctl command);
// require returns the object Node has already loaded.
import module from 'node:module';

const require = module.createRequire(import.meta.url);
const { existsSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');
const { fileURLToPath } = require('node:url');

/** node:sqlite runs without an ExperimentalWarning from 24.15. */
export const MIN_NODE = [24, 15, 0];

// Set on the relaunched child, so a bundled Node that is itself too old fails instead of looping.
const RELAUNCH_ENV = 'LOOPD_NODE_RELAUNCHED';

/** "24.21.0" or "v24.21.0" -> [24, 21, 0]; null when unparsable. */
export function parseNodeVersion(version) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(version).trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

export function isSupportedNode(version, min = MIN_NODE) {
  const v = parseNodeVersion(version);
  if (!v) return false;
  for (let i = 0; i < 3; i++) {
    if (v[i] !== min[i]) return v[i] > min[i];
  }
  return true;
}

export function packageRoot(scriptUrl) {
  return resolve(dirname(fileURLToPath(scriptUrl)), '..');
}

export function bundledNodePath(pkgRoot) {
  return join(pkgRoot, 'node_modules', 'node', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
}

/**
 * True for a package installed from the registry or a tarball, false for a source checkout: the
 * tarball ships no tsconfig.json (see "files" in package.json).
 * @param {string} pkgRoot
 * @param {(path: string) => boolean} exists
 */
export function isInstalled(pkgRoot, exists) {
  return !exists(join(pkgRoot, 'tsconfig.json'));
}

/**
 * Decides what a launcher does; pure so it can be tested without spawning anything.
 * @param {{ version: string, pkgRoot: string, exists: (path: string) => boolean, relaunched?: boolean, installed?: boolean }} o
 * @returns {{ action: 'run' } | { action: 'relaunch', node: string } | { action: 'fail', message: string }}
 */
export function planLaunch(o) {
  if (isSupportedNode(o.version)) return { action: 'run' };
  const node = bundledNodePath(o.pkgRoot);
  const found = `v${String(o.version).replace(/^v/, '')}`;
  if (o.relaunched || !o.exists(node)) {
    // An installed package has no bundled Node (it is a dev dependency): only a newer Node helps.
    const fix = o.installed
      ? 'install Node 24 (https://nodejs.org/en/download, or "nvm install 24") and put it first on PATH'
      : `run npm ci in ${o.pkgRoot} to install the bundled Node 24, or put Node 24 on PATH`;
    return { action: 'fail', message: `loopd needs Node >= ${MIN_NODE.join('.')} (found ${found}); ${fix}` };
  }
  return { action: 'relaunch', node };
}

/**
 * Returns true when the caller should go on in this process. Otherwise it has either exited with a
 * message or started the script again under the bundled Node and will exit with the child.
 */
export function ensureNode(scriptUrl) {
  const pkgRoot = packageRoot(scriptUrl);
  const plan = planLaunch({
    version: process.versions.node,
    pkgRoot,
    exists: existsSync,
    relaunched: process.env[RELAUNCH_ENV] === '1',
    installed: isInstalled(pkgRoot, existsSync),
  });
  if (plan.action === 'run') {
    // Optional chaining: absent before Node 22.1, and a missing cache only costs start-up time.
    module.enableCompileCache?.();
    return true;
  }
  if (plan.action === 'fail') {
    process.stderr.write(plan.message + '\n');
    process.exit(1);
  }
  void relaunch(plan.node, fileURLToPath(scriptUrl));
  return false;
}

async function relaunch(node, script) {
  const [{ spawn }, { constants }] = await Promise.all([import('node:child_process'), import('node:os')]);
  // The daemon keeps its Node flags (host/node-flags.ts; the launcher is plain JS and names them).
  const flags = /[\\/]loopd\.js$/.test(script) ? ['--max-semi-space-size=2'] : [];
  const child = spawn(node, ['--disable-warning=ExperimentalWarning', ...flags, script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [RELAUNCH_ENV]: '1' },
  });
  const forwarders = {};
  for (const sig of ['SIGINT', 'SIGTERM']) {
    forwarders[sig] = () => {
      try {
        child.kill(sig);
      } catch {
        // The child may already be gone; its exit handler ends this process.
      }
    };
    process.on(sig, forwarders[sig]);
  }
  child.on('error', (err) => {
    process.stderr.write(`loopd: could not start ${node}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const sig of Object.keys(forwarders)) process.off(sig, forwarders[sig]);
    if (signal) {
      // Die of the same signal so our parent (a shell, a supervisor) sees what really happened.
      process.kill(process.pid, signal);
      // Some signals do not terminate by default; fall back to the shell convention.
      setTimeout(() => process.exit(128 + (constants.signals[signal] || 0)), 100);
      return;
    }
    process.exit(code === null ? 1 : code);
  });
}
