// Output helpers of `watch`, `workspaces` and `events --workspace`, without a daemon.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withOptionalValue } from '../../cli/commands/events.js';
import { specCounts, specsDirOf, watchedLine } from '../../cli/workspaces.js';
import type { WorkspaceView } from '../../router/index.js';

const dir = mkdtempSync(join(tmpdir(), 'loopd-ws-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function view(root: string, extra: Partial<WorkspaceView> = {}): WorkspaceView {
  return { root, watched: true, runs: 0, specs: [], createdAt: 0, updatedAt: 0, ...extra };
}

describe('specCounts', () => {
  it('counts specs by status, the ones that started runs first', () => {
    expect(specCounts([])).toBe('-');
    expect(specCounts([{ status: 'draft' }, { status: 'triggered' }, { status: 'triggered' }])).toBe('2 triggered, 1 draft');
    expect(specCounts([{ status: 'zzz_new' }, { status: 'recorded' }, { status: 'aaa_new' }])).toBe('1 recorded, 1 aaa_new, 1 zzz_new');
  });
});

describe('watch output', () => {
  it('names the root, the recorded specs and the specs directory', async () => {
    expect(await watchedLine({ ...view(dir), recorded: 2, alreadyWatched: false })).toBe(
      `watching ${dir}: 2 existing specs recorded, new specs in ${join(dir, 'specs')}/ start runs`,
    );
    expect(await watchedLine({ ...view(dir), recorded: 1, alreadyWatched: false })).toMatch(/: 1 existing spec recorded,/);
    expect(await watchedLine({ ...view(dir), recorded: 0, alreadyWatched: true })).toBe(
      `${dir} is already watched: new specs in ${join(dir, 'specs')}/ start runs`,
    );
  });

  it("takes the specs directory from the workspace's .loop/config", async () => {
    const root = join(dir, 'custom');
    mkdirSync(join(root, '.loop'), { recursive: true });
    writeFileSync(join(root, '.loop', 'config'), 'specs_dir=docs/specs\n');
    expect(await specsDirOf(view(root))).toBe(join(root, 'docs', 'specs') + '/');
    // A broken config does not stop the line from being printed.
    writeFileSync(join(root, '.loop', 'config'), 'no_such_key=1\n');
    expect(await specsDirOf(view(root))).toBe(join(root, 'specs') + '/');
  });
});

describe('events --workspace with no value', () => {
  it('means the current directory when last or followed by a flag', () => {
    expect(withOptionalValue(['--workspace'], '--workspace', '.')).toEqual(['--workspace', '.']);
    expect(withOptionalValue(['--workspace', '-f'], '--workspace', '.')).toEqual(['--workspace', '.', '-f']);
    expect(withOptionalValue(['--workspace', '--json'], '--workspace', '.')).toEqual(['--workspace', '.', '--json']);
  });

  it('leaves a given value alone', () => {
    expect(withOptionalValue(['--workspace', '../app', '-f'], '--workspace', '.')).toEqual(['--workspace', '../app', '-f']);
    expect(withOptionalValue(['--workspace=../app'], '--workspace', '.')).toEqual(['--workspace=../app']);
    expect(withOptionalValue(['run-1', '-f'], '--workspace', '.')).toEqual(['run-1', '-f']);
    expect(withOptionalValue(['--', '--workspace'], '--workspace', '.')).toEqual(['--', '--workspace']);
  });
});
