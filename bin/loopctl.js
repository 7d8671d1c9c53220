#!/usr/bin/env node
// loopctl: the oclif CLI. The launcher hands over to the bundled Node 24 when the one on PATH is
// older; oclif and the commands are imported only after that, and commands import the tRPC client
// lazily, which keeps cold start near the numbers in STACK-NOTES.
import { ensureNode } from './launcher.js';

if (ensureNode(import.meta.url)) {
  // `loopctl inspect x | head` closes the pipe early: that is the reader's choice, not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err) => {
      if (err && err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  const { main } = await import('../dist/cli/main.js');
  await main(import.meta.url);
}
