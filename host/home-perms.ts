// The data dir holds the bearer token, the database (prompts, agent errors, paths) and the log:
// nobody but its owner may read it, whatever mode an existing folder was created with.
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const octal = (mode: number): string => (mode & 0o777).toString(8);

function tighten(path: string, want: number, what: string, home: string): void {
  const st = lstatSync(path);
  if ((st.mode & 0o077) === 0) return;
  try {
    chmodSync(path, want);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(
      `${what} ${path} is readable by others (mode ${octal(st.mode)}) and cannot be tightened (${code}): ` +
        `run "chmod -R go-rwx ${home}" as its owner, or use another LOOPD_HOME`,
    );
  }
}

/**
 * The data dir to 700 and the files directly in it to 600. Subfolders (runs/) need no walk: a 700
 * parent already keeps everyone else out. Returns what was changed, for the log.
 */
export function secureHome(home: string): string[] {
  const changed: string[] = [];
  const note = (path: string, want: number, what: string): void => {
    const before = lstatSync(path).mode;
    tighten(path, want, what, home);
    if ((before & 0o077) !== 0) changed.push(`${path} ${octal(before)} -> ${octal(want)}`);
  };
  note(home, 0o700, 'the data dir');
  for (const entry of readdirSync(home, { withFileTypes: true })) {
    if (entry.isFile()) note(join(home, entry.name), 0o600, 'the file');
  }
  return changed;
}
