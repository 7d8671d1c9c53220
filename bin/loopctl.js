#!/usr/bin/env node
// loopctl: the oclif CLI. The launcher hands over to the bundled Node 24 when the one on PATH is
// older; oclif and the commands are imported only after that, and commands import the tRPC client
// lazily, which keeps cold start near the numbers in STACK-NOTES.
import { ensureNode } from './launcher.js';

if (ensureNode(import.meta.url)) {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
