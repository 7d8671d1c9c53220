// The capping writer process: `node output-capper.js <log> <max bytes>`, stdin = the agent's
// output. Started by the agent's wrapper shell (process.ts), in the agent's process group.
import { capStream } from './output-cap.js';

const [logPath, maxArg] = process.argv.slice(2);
const maxBytes = Number(maxArg);
// A timeout's SIGTERM is for the agent: this writer leaves when its pipe closes, after saving the
// end of the output. A SIGKILL leaves the job to the daemon (finalizeCappedLog).
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => undefined);
if (!logPath || !Number.isFinite(maxBytes) || maxBytes <= 0) {
  process.stderr.write('usage: output-capper <log> <max bytes>\n');
  process.exit(2);
}
await capStream(process.stdin as AsyncIterable<Buffer>, logPath, maxBytes);
