// Benchmark agent: one tiny commit per implementation call, APPROVED as a reviewer, no sleeps. It
// appends its phase, iteration and its own start and end times to $LOOP_RUN_DIR/agent-times.tsv so
// the bench can take the agent's own time out of the run's wall time.
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const start = performance.timeOrigin;
readFileSync(0);
const phase = process.env.LOOP_PHASE;
if (phase === 'review') {
  process.stdout.write('Looks right.\nAPPROVED\n');
} else {
  const plan = process.env.LOOP_PLAN_PATH;
  const text = readFileSync(plan, 'utf8');
  const next = text.replace('- [ ]', '- [x]');
  writeFileSync(plan, next);
  writeFileSync(`bench-${process.env.LOOP_ITERATION}.txt`, 'x\n');
  const id = ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost'];
  execFileSync('git', [...id, 'add', '-A']);
  execFileSync('git', [...id, 'commit', '-q', '-m', `bench ${process.env.LOOP_ITERATION}`]);
  if (!next.includes('- [ ]')) process.stdout.write('<promise>COMPLETE</promise>\n');
}
appendFileSync(`${process.env.LOOP_RUN_DIR}/agent-times.tsv`, `${phase}\t${process.env.LOOP_ITERATION}\t${start}\t${Date.now()}\n`);
