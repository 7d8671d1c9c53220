// Streaming agent for the memory figure: writes BENCH_STREAM_MB of output (default 20) in 64 KiB
// lines over about two seconds, then finishes its one task.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

readFileSync(0);
const total = Number(process.env.BENCH_STREAM_MB ?? 20) * 1024 * 1024;
const line = `${'x'.repeat(64 * 1024 - 1)}\n`;
for (let sent = 0; sent < total; sent += line.length) {
  if (!process.stdout.write(line)) await new Promise((r) => process.stdout.once('drain', r));
  if ((sent / line.length) % 16 === 0) await new Promise((r) => setTimeout(r, 20));
}
const plan = process.env.LOOP_PLAN_PATH;
writeFileSync(plan, readFileSync(plan, 'utf8').replace('- [ ]', '- [x]'));
const id = ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost'];
execFileSync('git', [...id, 'commit', '-qam', 'stream']);
process.stdout.write('<promise>COMPLETE</promise>\n');
