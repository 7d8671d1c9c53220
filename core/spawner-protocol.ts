// The messages between the daemon (core/spawner.ts) and its spawner process (core/spawner-main.ts).

export type SpawnerRequest =
  | { op: 'run'; id: number; file: string; args: string[]; cwd: string; env: Record<string, string>; input?: string; maxBuffer: number }
  | { op: 'detached'; id: number; file: string; args: string[]; cwd: string; env: Record<string, string> };

/** What execFile's callback was given, as plain data: error null on exit code 0. */
export interface RunOutcome {
  /** code: the exit code (a number), or a spawn error's code ('ENOENT'...), or null. */
  error: { code: number | string | null; signal: string | null; message: string } | null;
  stdout: string;
  stderr: string;
}

export type SpawnerReply =
  | { op: 'ready' }
  | ({ op: 'ran'; id: number } & RunOutcome)
  /** stat: /proc/<pid>/stat read before the child could be reaped (null if it could not be read). */
  | { op: 'started'; id: number; pid: number; stat: string | null }
  | { op: 'failed'; id: number; message: string }
  | { op: 'exit'; pid: number; code: number | null; signal: string | null };
