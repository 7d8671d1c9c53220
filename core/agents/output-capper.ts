// The capping writer process: `node output-capper.js <log> <max bytes>`, stdin = the agent's
// output. Started by the agent's wrapper shell (process.ts), in the agent's process group.
// A timeout's SIGTERM is for the agent: this writer leaves when its pipe closes, after saving the
// end of the output. A SIGKILL leaves the job to the daemon (finalizeCappedLog). Installed before
// anything is loaded, to shorten the start-up window in which a SIGTERM would still kill it.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => undefined);
const { capStream } = await import('./output-cap.js');

const [logPath, maxArg] = process.argv.slice(2);
const maxBytes = Number(maxArg);
if (!logPath || !Number.isFinite(maxBytes) || maxBytes <= 0) {
  process.stderr.write('usage: output-capper <log> <max bytes>\n');
  process.exit(2);
}
await capStream(process.stdin as AsyncIterable<Buffer>, logPath, maxBytes);
