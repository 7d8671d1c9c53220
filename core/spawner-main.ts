// The spawner process (core/spawner.ts): a small Node process that starts the daemon's git
// processes and agent wrappers on its behalf. fork() copies the page tables of the process that
// calls it and blocks that process's event loop meanwhile, ~10-40 ms for a daemon of 90-250 MB;
// this process stays at the size of a bare Node and loads nothing but node:child_process and
// node:fs, so its fork is cheap and it is not the daemon's event loop that waits.
//
// Requests come over the IPC channel, one JSON message each, answered with the same id. It ends
// when the channel closes (the daemon stopped or died), once the commands it runs have answered:
// the detached processes it started live on in their own sessions, like the daemon's did.
import { runHere, startDetachedHere } from './spawn-here.js';
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
  void runHere(req.file, req.args, req).then((outcome) => {
    running--;
    send({ op: 'ran', id: req.id, ...outcome });
    endWhenIdle();
  });
}

function detached(req: Extract<SpawnerRequest, { op: 'detached' }>): void {
  startDetachedHere(req.file, req.args, req).then(
    ({ child, pid, stat }) => {
      send({ op: 'started', id: req.id, pid, stat });
      child.once('exit', (code, signal) => send({ op: 'exit', pid, code, signal }));
    },
    (e: unknown) => send({ op: 'failed', id: req.id, message: e instanceof Error ? e.message : String(e) }),
  );
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
