// `loopctl init`: prepares a git repository for loopd. Kept apart from the command so it can be
// tested without a build or a daemon.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderDefaultConfigFile } from '../core/config.js';
import { findRepoRoot } from '../core/git.js';

export const LOG_IGNORE = 'logs/loop/';

export interface InitStep {
  /** Relative to the repo root. */
  path: string;
  action: 'created' | 'updated' | 'skipped';
  detail: string;
}

export interface InitResult {
  root: string;
  steps: InitStep[];
}

export async function initWorkspace(cwd: string): Promise<InitResult> {
  const root = await findRepoRoot(cwd);
  const steps: InitStep[] = [];

  const configPath = join(root, '.loop', 'config');
  if (existsSync(configPath)) {
    steps.push({ path: '.loop/config', action: 'skipped', detail: 'already exists, left as it is' });
  } else {
    mkdirSync(join(root, '.loop'), { recursive: true });
    // wx: never clobber a config that appeared since the check.
    writeFileSync(configPath, renderDefaultConfigFile(), { flag: 'wx' });
    steps.push({ path: '.loop/config', action: 'created', detail: 'every key listed at its default, commented out' });
  }

  const plansDir = join(root, 'specs', 'planning');
  if (existsSync(plansDir)) {
    steps.push({ path: 'specs/planning/', action: 'skipped', detail: 'already exists' });
  } else {
    mkdirSync(plansDir, { recursive: true });
    steps.push({ path: 'specs/planning/', action: 'created', detail: 'specs go in specs/, plans in specs/planning/' });
  }

  const gitignore = join(root, '.gitignore');
  const current = existsSync(gitignore) ? readFileSync(gitignore, 'utf8') : null;
  if (current !== null && ignoresLogDir(current)) {
    steps.push({ path: '.gitignore', action: 'skipped', detail: `already ignores ${LOG_IGNORE}` });
  } else {
    const prefix = current === null || current === '' || current.endsWith('\n') ? '' : '\n';
    appendFileSync(gitignore, `${prefix}${LOG_IGNORE}\n`);
    steps.push({
      path: '.gitignore',
      action: current === null ? 'created' : 'updated',
      detail: `ignores ${LOG_IGNORE} (run artifacts)`,
    });
  }

  return { root, steps };
}

/** True when a .gitignore line already covers logs/loop/ (that dir itself, or all of logs/). */
export function ignoresLogDir(gitignoreText: string): boolean {
  for (const raw of gitignoreText.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const norm = line.replace(/^\//, '').replace(/\/\*\*$/, '').replace(/\/\*$/, '').replace(/\/$/, '');
    if (norm === 'logs/loop' || norm === 'logs' || norm === '**/logs/loop' || norm === '**/logs') return true;
  }
  return false;
}
