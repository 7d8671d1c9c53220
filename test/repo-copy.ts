// A cheap copy of a small committed template repo, for the fixtures that give every test its own
// repo (makeRepo() of test/integration/harness.ts, test/unit/git.test.ts). fs.cpSync walks the
// template again for every copy (a stat, an open and a copy per file, in JS); this reads the
// template once, then each copy is one mkdir per directory, one write per small file from memory
// and one hard link per git object. Git never changes an object file once written (it writes a new
// one, or only touches its mtime), so a linked object is as independent as a copied one; this is
// what `git clone --local` does. Left out: what git writes only for people (the sample hooks, the
// repository's description, the last commit message), the template's reflogs (the history of its
// own ref updates; git starts new ones as refs move) and the directories git makes when it first
// writes into them (hooks, info, refs/tags, objects/pack, objects/info). Every directory costs a
// mkdir, the costliest call of a copy on a busy machine. The template must not change after its
// first copy.
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
const isReflog = (rel: string): boolean => rel.startsWith(join('.git', 'logs') + sep);
/** The directories a git directory must have to be recognized as one, even when empty. */
const REQUIRED_DIRS = [join('.git', 'objects'), join('.git', 'refs')];

function readLayout(src: string): Layout {
  const layout: Layout = { dirs: [], files: [], objects: [] };
  const objects = join('.git', 'objects') + sep;
  const dirs: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(src, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : join(rel, e.name);
      if (e.isDirectory()) {
        dirs.push(r);
        walk(r);
      } else if (e.isFile()) {
        if (LEFT_OUT.has(r) || isSampleHook(r) || isReflog(r)) continue;
        if (r.startsWith(objects)) layout.objects.push(r);
        else layout.files.push({ rel: r, data: readFileSync(join(src, r)), mode: lstatSync(join(src, r)).mode & 0o777 });
      } else {
        throw new Error(`copyRepo: ${join(src, r)} is neither a file nor a directory; the template repo holds only those`);
      }
    }
  };
  walk('');
  // A directory is made when something copied lies in it, or git needs it; parents come first in
  // `dirs` (the walk lists a directory before its contents).
  const paths = [...layout.files.map((f) => f.rel), ...layout.objects];
  layout.dirs = dirs.filter((d) => REQUIRED_DIRS.includes(d) || paths.some((p) => p.startsWith(d + sep)));
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
