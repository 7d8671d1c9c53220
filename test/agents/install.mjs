// Installs the pinned real agent CLIs (test/agents/versions.json) from the npm registry into a
// cache folder, once: LOOPD_AGENT_CACHE, else <repo>/.cache/agent-clis. They are large (~800 MB
// with Codex's native binary), which is why `npm run test:agents` is opt-in.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const cacheDir = process.env.LOOPD_AGENT_CACHE ? resolve(process.env.LOOPD_AGENT_CACHE) : resolve(here, '..', '..', '.cache', 'agent-clis');
const versions = JSON.parse(readFileSync(join(here, 'versions.json'), 'utf8'));

function installed(name) {
  try {
    return JSON.parse(readFileSync(join(cacheDir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

const missing = Object.entries(versions).filter(([name, v]) => installed(name) !== v);
if (missing.length === 0) {
  console.log(`agent CLIs ready in ${cacheDir}: ${Object.entries(versions).map(([n, v]) => `${n}@${v}`).join(', ')}`);
} else {
  mkdirSync(cacheDir, { recursive: true });
  const specs = Object.entries(versions).map(([n, v]) => `${n}@${v}`);
  console.log(`installing ${specs.join(' ')} into ${cacheDir} ...`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', cacheDir, ...specs], { stdio: 'inherit' });
}
for (const bin of ['claude', 'codex']) {
  if (!existsSync(join(cacheDir, 'node_modules', '.bin', bin))) {
    console.error(`${bin} is missing from ${cacheDir}/node_modules/.bin after the install`);
    process.exit(1);
  }
}
