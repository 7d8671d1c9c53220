#!/usr/bin/env node
// loopctl: the oclif CLI. Normally started by bin/loopctl (sh), which picks the Node; started
// directly by an old Node, the launcher hands over to the bundled Node 24. The hot read commands
// are answered by dist/cli/fast.js without loading oclif or the tRPC client; anything it does not
// handle exactly (help, -f, a bad flag, an error) goes to oclif, bundled with our commands into
// dist/bundle/loopctl.js, whose commands import the client lazily.
import { ensureNode } from './launcher.js';

if (ensureNode(import.meta.url)) {
  // `loopctl inspect x | head` closes the pipe early: that is the reader's choice, not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err) => {
      if (err && err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  const argv = process.argv.slice(2);
  let handled = false;
  if (process.env.LOOPCTL_NO_FAST_PATH !== '1') {
    let fast = null;
    try {
      fast = await import('../dist/cli/fast.js');
    } catch {
      // Not built: oclif reports that the commands are missing.
    }
    if (fast) handled = await fast.runFast(argv);
  }
  if (!handled) {
    // oclif, with every error that escapes a command printed like a command's own (cli/main.ts),
    // and oclif and the commands in one file (cli/bundle.ts): a fraction of the CPU of loading
    // them module by module.
    const { main } = await import('../dist/bundle/loopctl.js');
    await main();
  }
}
