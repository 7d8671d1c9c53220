// A cheap copy of a small committed template repo, for the fixtures that give every test its own
// repo (makeRepo() of test/integration/harness.ts, test/unit/git.test.ts). fs.cpSync walks the
// template again for every copy (a stat, an open and a copy per file, in JS); this reads the
// template once, then each copy is one mkdir per directory, one write per small file from memory
// and one hard link per git object. Git never changes an object file once written (it writes a new
// one, or only touches its mtime), so a linked object is as independent as a copied one; this is
// what `git clone --local` does. What git only writes for people (the sample hooks, the
// repository's description, the last commit message) is left out. The template must not change
// after its first copy.
import { linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';

interface Layout {
  dirs: string[];
  files: { rel: string; data: Buffer; mode: number }[];
  objects: string[];
}

const layouts = new Map<string, Layout>();

/** Files `git init` and `git commit` leave for people, not for git: nothing reads them. */
const LEFT_OUT = new Set([join('.git', 'description'), join('.git', 'COMMIT_EDITMSG')]);
const isSampleHook = (rel: string): boolean => rel.startsWith(join('.git', 'hooks') + sep) && rel.endsWith('.sample');

function readLayout(src: string): Layout {
  const layout: Layout = { dirs: [], files: [], objects: [] };
  const objects = join('.git', 'objects') + sep;
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(src, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : join(rel, e.name);
      if (e.isDirectory()) {
        layout.dirs.push(r);
        walk(r);
      } else if (e.isFile()) {
        if (LEFT_OUT.has(r) || isSampleHook(r)) continue;
        if (r.startsWith(objects)) layout.objects.push(r);
        else layout.files.push({ rel: r, data: readFileSync(join(src, r)), mode: lstatSync(join(src, r)).mode & 0o777 });
      } else {
        throw new Error(`copyRepo: ${join(src, r)} is neither a file nor a directory; the template repo holds only those`);
      }
    }
  };
  walk('');
  return layout;
}

/** Copies the template repo `src` (working tree and .git) to the new directory `dst`. */
export function copyRepo(src: string, dst: string): void {
  let layout = layouts.get(src);
  if (!layout) {
    layout = readLayout(src);
    layouts.set(src, layout);
  }
  mkdirSync(dst);
  for (const d of layout.dirs) mkdirSync(join(dst, d));
  for (const f of layout.files) writeFileSync(join(dst, f.rel), f.data, { mode: f.mode });
  for (const o of layout.objects) linkSync(join(src, o), join(dst, o));
}
