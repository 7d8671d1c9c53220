#!/usr/bin/env node
// loopd: the daemon. The launcher hands over to the bundled Node 24 when the one on PATH is older.
import { ensureNode, packageRoot } from './launcher.js';

if (ensureNode(import.meta.url)) {
  let main;
  try {
    ({ main } = await import('../dist/host/main.js'));
  } catch (err) {
    // Only the entry itself missing means "not built"; a missing module deeper down is a real error.
    const notBuilt =
      err && err.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find module '[^']*dist[\\/]host[\\/]main\.js'/.test(String(err.message));
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
