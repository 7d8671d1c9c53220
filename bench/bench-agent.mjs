// Benchmark agent: one tiny commit per iteration, no sleeps. It appends its own start and end
// times to $LOOP_RUN_DIR/agent-times.tsv so the bench can subtract the agent's own time.
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const start = performance.timeOrigin;
readFileSync(0);
const plan = process.env.LOOP_PLAN_PATH;
const text = readFileSync(plan, 'utf8');
const next = text.replace('- [ ]', '- [x]');
writeFileSync(plan, next);
writeFileSync(`bench-${process.env.LOOP_ITERATION}.txt`, 'x\n');
execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'add', '-A']);
execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-q', '-m', `bench ${process.env.LOOP_ITERATION}`]);
if (!next.includes('- [ ]')) process.stdout.write('<promise>COMPLETE</promise>\n');
appendFileSync(`${process.env.LOOP_RUN_DIR}/agent-times.tsv`, `${process.env.LOOP_ITERATION}\t${start}\t${Date.now()}\n`);
