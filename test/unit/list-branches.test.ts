// The branch list asked at every run's creation (core/git.ts listBranches), read with
// for-each-ref through the spawner: names as the user wrote them, whatever else the repo holds.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GitError, listBranches } from '../../core/git.js';
import { g, initRepo, tempDirs } from './tmp.js';

const tmp = tempDirs('loopd-branches-');

describe('listBranches', () => {
  it('lists local branches by their full names: slashes kept, a tag of the same name and remote refs ignored', async () => {
    const root = initRepo(join(tmp(), 'repo'));
    g(root, 'commit', '-q', '--allow-empty', '-m', 'first');
    g(root, 'branch', 'run/a');
    g(root, 'branch', 'same');
    g(root, 'tag', 'same');
    g(root, 'update-ref', 'refs/remotes/origin/elsewhere', 'HEAD');
    expect((await listBranches(root)).sort()).toEqual(['main', 'run/a', 'same']);
  });

  it('is empty in a repo with no commit yet, and a clear error outside a repo', async () => {
    const root = initRepo(join(tmp(), 'fresh'));
    expect(await listBranches(root)).toEqual([]);
    await expect(listBranches(tmp())).rejects.toThrow(GitError);
    await expect(listBranches(tmp())).rejects.toThrow(/cannot list branches in .*: fatal: not a git repository/);
  });
});
