// The capping writer process: `node output-capper.js <log> <max bytes>`, stdin = the agent's
// output. Started by the agent's wrapper shell (spawn.ts), in the agent's process group.
// A timeout's SIGTERM is for the agent: this writer leaves when its pipe closes, after saving the
// end of the output. A SIGKILL leaves the job to the daemon (finalizeCappedLog). Installed before
// anything is loaded, to shorten the start-up window in which a SIGTERM would still kill it.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => undefined);
const { readSync } = await import('node:fs');
const { capStream } = await import('./output-cap.js');

/**
 * stdin read with plain blocking reads into one buffer: this process does nothing else, and
 * `process.stdin` (a stream, with the net/tty machinery behind it) cost about as much start-up CPU
 * again as Node itself, on every agent call. capStream writes each chunk before it asks for the next.
 */
async function* stdinChunks(): AsyncGenerator<Buffer> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A signal during the read (ignored above), or a non-blocking pipe with nothing in it yet.
      if (code === 'EINTR') continue;
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      throw e;
    }
    if (n === 0) return;
    yield buf.subarray(0, n);
  }
}

const [logPath, maxArg] = process.argv.slice(2);
const maxBytes = Number(maxArg);
if (!logPath || !Number.isFinite(maxBytes) || maxBytes <= 0) {
  process.stderr.write('usage: output-capper <log> <max bytes>\n');
  process.exit(2);
}
await capStream(stdinChunks(), logPath, maxBytes);
