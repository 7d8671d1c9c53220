// The spawner process (core/spawner.ts): a small Node process that starts the daemon's git
// processes and agent wrappers on its behalf. fork() copies the page tables of the process that
// calls it and blocks that process's event loop meanwhile, ~10-40 ms for a daemon of 90-250 MB;
// this process stays at the size of a bare Node and loads nothing but node:child_process and
// node:fs, so its fork is cheap and it is not the daemon's event loop that waits.
//
// Requests come over the IPC channel, one JSON message each, answered with the same id. It ends
// when the channel closes (the daemon stopped or died), once the commands it runs have answered:
// the detached processes it started live on in their own sessions, like the daemon's did.
import { execFile, spawn } from 'node:child_process';
import { spawnedStat } from './spawned-stat.js';
import type { SpawnerReply, SpawnerRequest } from './spawner-protocol.js';

let running = 0;
let closing = false;

function send(reply: SpawnerReply): void {
  if (process.connected) process.send?.(reply);
}

function endWhenIdle(): void {
  if (closing && running === 0) process.exit(0);
}

function run(req: Extract<SpawnerRequest, { op: 'run' }>): void {
  running++;
  const done = (reply: SpawnerReply): void => {
    running--;
    send(reply);
    endWhenIdle();
  };
  try {
    const child = execFile(req.file, req.args, { cwd: req.cwd, env: req.env, encoding: 'utf8', maxBuffer: req.maxBuffer }, (err, stdout, stderr) => {
      const error = err === null ? null : { code: typeof err.code === 'number' || typeof err.code === 'string' ? err.code : null, signal: err.signal ?? null, message: err.message };
      done({ op: 'ran', id: req.id, error, stdout, stderr });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(req.input ?? '');
  } catch (e) {
    done({ op: 'ran', id: req.id, error: { code: null, signal: null, message: e instanceof Error ? e.message : String(e) }, stdout: '', stderr: '' });
  }
}

function detached(req: Extract<SpawnerRequest, { op: 'detached' }>): void {
  let child;
  try {
    child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio: 'ignore' });
  } catch (e) {
    send({ op: 'failed', id: req.id, message: e instanceof Error ? e.message : String(e) });
    return;
  }
  const pid = child.pid;
  if (pid === undefined) {
    // A failed spawn (a missing cwd, say) reports itself on 'error', on a later tick.
    child.once('error', (err) => send({ op: 'failed', id: req.id, message: err.message }));
    return;
  }
  child.on('error', () => undefined);
  const stat = spawnedStat(pid);
  send({ op: 'started', id: req.id, pid, stat });
  child.once('exit', (code, signal) => send({ op: 'exit', pid, code, signal }));
}

process.on('message', (req: SpawnerRequest) => {
  if (req.op === 'run') run(req);
  else detached(req);
});
// Ctrl-C in the daemon's terminal reaches this process too (same process group): the daemon
// decides what a SIGINT means and ends this process by closing the channel. A handler, not an
// ignored signal, so the processes it starts still get the default action.
process.on('SIGINT', () => undefined);
process.on('disconnect', () => {
  closing = true;
  endWhenIdle();
});
send({ op: 'ready' });
