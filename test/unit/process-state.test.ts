import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { realpathSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { noteProcessState, restoreProcessState } from '../process-state.js';

describe('the process state a test file must leave as it found it (test/process-state.ts)', () => {
  it('reports nothing when nothing changed', async () => {
    expect(await restoreProcessState(noteProcessState(), 0)).toEqual([]);
  });

  it('puts back the environment, the working directory, the exit code, listeners and fake timers, and names each', async () => {
    const was = noteProcessState();
    const cwd = process.cwd();
    const home = process.env.HOME;
    process.env.LOOPD_PROCESS_STATE_TEST = 'set';
    delete process.env.HOME;
    process.chdir(realpathSync(tmpdir()));
    process.exitCode = 3;
    const onSigint = () => undefined;
    process.on('SIGINT', onSigint);
    vi.useFakeTimers();

    const left = await restoreProcessState(was, 0);

    expect(left).toEqual([
      'process.env HOME, LOOPD_PROCESS_STATE_TEST changed',
      `the working directory changed to ${realpathSync(tmpdir())}`,
      'process.exitCode set to 3',
      "1 process 'SIGINT' listener(s)",
      'fake timers on',
    ]);
    expect(process.env.LOOPD_PROCESS_STATE_TEST).toBeUndefined();
    expect(process.env.HOME).toBe(home);
    expect(process.cwd()).toBe(cwd);
    expect(process.exitCode).toBeUndefined();
    expect(process.listeners('SIGINT')).not.toContain(onSigint);
    expect(vi.isFakeTimers()).toBe(false);
  });

  it('waits for a server that is closing, and names one left listening', async () => {
    const was = noteProcessState();
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // Closed meanwhile: not reported.
    setTimeout(() => server.close(), 100);
    expect(await restoreProcessState(was, 5000)).toEqual([]);

    const open = createServer();
    await new Promise<void>((r) => open.listen(0, '127.0.0.1', r));
    try {
      expect(await restoreProcessState(was, 100)).toEqual(['1 listening server(s) still open']);
    } finally {
      await new Promise((r) => open.close(r));
    }
  });
});
