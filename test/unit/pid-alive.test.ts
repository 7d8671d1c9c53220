import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pidAlive } from '../../cli/locate.js';

const stateOf = (pid: number): string | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
};

describe('pidAlive', () => {
  it('is true for a running process and false for nonsense pids', () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(0)).toBe(false);
    expect(pidAlive(-1)).toBe(false);
    expect(pidAlive(1.5)).toBe(false);
  });

  it('counts an exited process that nobody reaped yet (a zombie) as gone', async () => {
    // The shell starts a short child, then becomes `sleep`, which never reaps it: a zombie
    // for as long as the sleep lasts, like a stopped daemon whose init reaps late. When the child
    // ends before the exec, the shell may reap it itself (its pid is then simply gone): try again.
    for (let attempt = 1; ; attempt++) {
      const parent = spawn('/bin/sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
      try {
        const zombie = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
        // Wait for the fact, not for a time: the child has exited once its state reads Z (or it is gone).
        let state = stateOf(zombie);
        while (state !== 'Z' && state !== null) {
          await new Promise((r) => setImmediate(r));
          state = stateOf(zombie);
        }
        if (state === 'Z') {
          expect(pidAlive(zombie)).toBe(false);
          expect(pidAlive(parent.pid!)).toBe(true);
          return;
        }
        if (attempt === 20) throw new Error('the shell reaped its child before exec in 20 attempts: no zombie to look at');
      } finally {
        parent.kill('SIGKILL');
      }
    }
  });
});
