// Who this host is in a cluster: an id kept in the data dir (so a restart is the same host and
// adopts its own steps), and what it can do (the agent kinds whose binary is on its PATH).
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, join } from 'node:path';
import { AGENT_KINDS } from '../../core/types.js';

/** `<home>/host-id`, made once: "<hostname>-<8 hex>" (readable in `loopctl hosts`, unique per data dir). */
export function hostIdOf(home: string): string {
  const path = join(home, 'host-id');
  if (existsSync(path)) {
    const id = readFileSync(path, 'utf8').trim();
    if (/^[A-Za-z0-9._-]{1,100}$/.test(id)) return id;
  }
  const name = hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60) || 'host';
  const id = `${name}-${randomBytes(4).toString('hex')}`;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writeFileSync(path, id + '\n', { mode: 0o600 });
  return id;
}

function onPath(bin: string, path: string): boolean {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      /* not here */
    }
  }
  return false;
}

/** Agent kinds this host can run: claude and codex when their CLI is on PATH; command always (sh). */
export function availableAgents(env: NodeJS.ProcessEnv = process.env): string[] {
  const path = env.PATH ?? '';
  return AGENT_KINDS.filter((k) => k === 'command' || onPath(k, path));
}
