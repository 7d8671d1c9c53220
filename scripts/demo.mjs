// npm run demo: a throwaway repo with a spec and a 3-task plan, a private daemon on a free port,
// and a run with the bundled demo agent, shown live through loopctl, ending in a merged branch.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const loopctlBin = join(root, 'bin', 'loopctl.js');
const demoAgent = join(root, 'test', 'fixtures', 'demo-agent.mjs');
const started = Date.now();
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s) => process.stdout.write(`\n${bold(`== ${s}`)}\n`);

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

const base = mkdtempSync(join(tmpdir(), 'loopd-demo-'));
const repo = join(base, 'greeter');
const home = join(base, 'loopd-home');
const port = await freePort();
const env = { ...process.env, LOOPD_HOME: home, LOOPD_ADDR: `127.0.0.1:${port}` };
delete env.LOOPD_AUTH_TOKEN;
delete env.LOOP_CONFIG;

function git(...args) {
  return execFileSync('git', ['-c', 'user.name=demo', '-c', 'user.email=demo@localhost', ...args], { cwd: repo, encoding: 'utf8' });
}

function loopctl(args, opts = {}) {
  const shown = `$ loopctl ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`;
  if (!opts.quiet) process.stdout.write(`${shown}\n`);
  const res = spawnSync(process.execPath, [loopctlBin, ...args], { cwd: repo, env, encoding: 'utf8', stdio: opts.capture ? 'pipe' : 'inherit' });
  if (res.status !== 0) {
    if (opts.capture) process.stderr.write(res.stdout + res.stderr);
    throw new Error(`loopctl ${args[0]} failed with exit code ${res.status}`);
  }
  return res.stdout;
}

function follow(args) {
  process.stdout.write(`$ loopctl ${args.join(' ')}\n`);
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [loopctlBin, ...args], { cwd: repo, env, stdio: 'inherit' });
    child.on('exit', (code) => (code === 0 ? res() : rej(new Error(`loopctl ${args[0]} exited with ${code}`))));
  });
}

let daemonStarted = false;
try {
  step(`A throwaway repo at ${repo}`);
  mkdirSync(join(repo, 'specs', 'planning'), { recursive: true });
  mkdirSync(join(repo, '.loop'), { recursive: true });
  writeFileSync(
    join(repo, 'specs', 'greeting.md'),
    '# Greeting module\n\nA tiny `greet.js` module that greets people politely, in English and in French,\nwith a usage note in `docs/usage.md`.\n',
  );
  writeFileSync(
    join(repo, 'specs', 'planning', 'greeting-plan.md'),
    '# Plan: greeting module\n\n## Tasks\n- [ ] Add hello() to greet.js\n- [ ] Add bonjour() to greet.js\n- [ ] Document both in docs/usage.md\n\n## Verification\n- [ ] node -e "import(\'./greet.js\')"\n',
  );
  writeFileSync(
    join(repo, '.loop', 'config'),
    [
      '# The demo runs a bundled deterministic agent (it also plays the reviewer) instead of a real one.',
      'agent=command',
      `agent_cmd="node ${demoAgent}"`,
      'iterations=10',
      '# The repo\'s own check, run after every reviewed iteration.',
      'verify_cmds=node --check greet.js',
      '',
    ].join('\n'),
  );
  writeFileSync(join(repo, '.gitignore'), 'logs/loop/\n');
  writeFileSync(join(repo, 'README.md'), '# greeter\n');
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: repo });
  git('add', '-A');
  git('commit', '-q', '-m', 'Spec and plan for the greeting module');
  process.stdout.write(readFileSync(join(repo, 'specs', 'planning', 'greeting-plan.md'), 'utf8'));

  step(`Start a private daemon (LOOPD_HOME=${home}, port ${port})`);
  loopctl(['daemon', 'start']);
  daemonStarted = true;

  step('Hand it the spec');
  const created = JSON.parse(loopctl(['run', 'specs/greeting.md', '--json'], { capture: true, quiet: true }));
  process.stdout.write(`$ loopctl run specs/greeting.md\nrun ${created.id} (${created.name}) created: branch ${created.runBranch}, worktree ${created.worktreePath}\n`);

  step('Live agent output (loopctl tail -f)');
  await follow(['tail', created.id, '-f']);

  step('Every phase, as events (loopctl events)');
  loopctl(['events', created.id]);

  step('The run, as loopd recorded it');
  loopctl(['inspect', created.id]);
  const detail = JSON.parse(loopctl(['inspect', created.id, '--json'], { capture: true, quiet: true }));
  if (detail.status !== 'COMPLETED') throw new Error(`the demo run ended ${detail.status}: ${detail.exitReason} ${detail.lastError ?? ''}`);

  step('summary.json');
  process.stdout.write(readFileSync(join(detail.runDir, 'summary.json'), 'utf8'));

  step(`The target branch ${detail.mergeTargetBranch} (your checkout stayed on ${git('branch', '--show-current').trim()})`);
  process.stdout.write(git('log', '--oneline', '--decorate', detail.mergeTargetBranch));
  process.stdout.write(git('show', '--stat', '--format=%n%s%n%n%b', detail.mergeTargetBranch));
  process.stdout.write(`\n${bold(`Demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`)} Files are left in ${base}\n`);
} catch (e) {
  process.stderr.write(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
} finally {
  if (daemonStarted) {
    try {
      loopctl(['daemon', 'stop'], { capture: true, quiet: true });
    } catch {
      /* reported above */
    }
  }
}
