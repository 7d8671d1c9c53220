#!/usr/bin/env node
// loopd: the daemon. The launcher hands over to the bundled Node 24 when the one on PATH is older.
// The daemon runs from its single-file bundle (dist/bundle/loopd.js, made by scripts/build.sh from
// host/main.ts): one file to compile instead of ~300 modules to resolve and load, about half the
// CPU of a start. Every way of starting a daemon process (loopctl daemon start, the systemd unit,
// the tests) goes through this file.
import { ensureNode, packageRoot } from './launcher.js';

if (ensureNode(import.meta.url)) {
  let main;
  try {
    ({ main } = await import('../dist/bundle/loopd.js'));
  } catch (err) {
    // Only the bundle itself missing means "not built"; a module missing at run time is a real error.
    const notBuilt =
      err && err.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find module '[^']*dist[\\/]bundle[\\/]loopd\.js'/.test(String(err.message));
    const root = packageRoot(import.meta.url);
    process.stderr.write(
      notBuilt
        ? `loopd is not built: run npm run build in ${root}\n`
        : `loopd: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  }
  try {
    await main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`loopd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
