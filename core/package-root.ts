// Where this installation's files are. Every module that needs a file shipped beside the code (the
// migrations, the built dashboard, the spawner and capper scripts, bin/loopd.js, package.json)
// asks here instead of counting `..` from its own location, because that location differs: the
// TypeScript sources (core/), the compiled modules (dist/core/) and the daemon's single-file
// bundle (dist/bundle/loopd.js, where import.meta.url is the bundle's) all sit at other depths.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/**
 * The package root: the nearest directory above this module with a package.json. Nothing between
 * the code and the root has one (dist/ is written by tsc, vite and esbuild, none of which add it).
 */
export function packageRoot(): string {
  if (cached !== null) return cached;
  const start = dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return (cached = dir);
    dir = dirname(dir);
  }
  throw new Error(`cannot find loopd's package.json above ${start}: the installation is incomplete, reinstall it`);
}

/** A file or directory of the installation, by its path from the package root. */
export function installedPath(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}
