// The capping writer process: `node output-capper.js <log> <max bytes> [<head bytes> <probe>]`,
// stdin = the agent's output. Started by the agent's wrapper shell (spawn.ts), in the agent's
// process group: from the first byte, or (with <head bytes>) only once `head -c` copied that many
// bytes into the log and one more byte arrived, which the wrapper saved in the <probe> file.
// A timeout's SIGTERM is for the agent: this writer leaves when its pipe closes, after saving the
// end of the output. A SIGKILL leaves the job to the daemon (finalizeCappedLog). Installed before
// anything is loaded, to shorten the start-up window in which a SIGTERM would still kill it.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => undefined);
const { readFileSync, readSync, rmSync } = await import('node:fs');
const { capStream, countNewlines } = await import('./output-cap.js');

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

/** The probe byte first, then stdin. */
async function* after(first: Buffer): AsyncGenerator<Buffer> {
  if (first.length > 0) yield first;
  yield* stdinChunks();
}

const [logPath, maxArg, headArg, probe] = process.argv.slice(2);
const maxBytes = Number(maxArg);
const headBytes = headArg === undefined ? null : Number(headArg);
if (!logPath || !Number.isFinite(maxBytes) || maxBytes <= 0 || (headBytes !== null && (!Number.isInteger(headBytes) || headBytes < 0 || !probe))) {
  process.stderr.write('usage: output-capper <log> <max bytes> [<head bytes> <probe file>]\n');
  process.exit(2);
}
if (headBytes === null) {
  await capStream(stdinChunks(), logPath, maxBytes);
} else {
  const first = readFileSync(probe!);
  rmSync(probe!, { force: true });
  await capStream(after(first), logPath, maxBytes, { headDone: { bytes: headBytes, lines: countNewlines(logPath) } });
}
