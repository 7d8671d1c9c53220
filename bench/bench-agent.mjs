// Benchmark agent: one tiny commit per implementation call, APPROVED as a reviewer, no sleeps. It
// appends its phase, iteration, its own start time (its process's start), the time of its last
// instruction and its CPU time (its own and its git processes', in ms) to
// $LOOP_RUN_DIR/agent-times.tsv so the bench can take the agent's own time and CPU out of the
// run's. Its end is not the last instruction but its exit, which the bench reads from the step's
// exit file (bench/run.mjs, agentExited): Node's own exit takes a few ms more, the agent's time.
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
// cutime and cstime (fields 16 and 17 of /proc/self/stat, in clock ticks of 10 ms): the git
// processes this agent ran and waited for.
const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
const cpu = process.cpuUsage();
const cpuMs = (cpu.user + cpu.system) / 1000 + (Number(fields[13]) + Number(fields[14])) * 10;
appendFileSync(`${process.env.LOOP_RUN_DIR}/agent-times.tsv`, `${phase}\t${process.env.LOOP_ITERATION}\t${start}\t${Date.now()}\t${cpuMs.toFixed(1)}\n`);
