// What the trigger knows about a file on disk: its content hash, and whether a writer is done with
// it (size and mtime holding still). No decisions here; see spec-decisions.ts.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    // Deleted (or replaced by a directory) between the event and the read: nothing to decide.
    return null;
  }
}

/**
 * A write in progress shows in the size or the mtime (nanoseconds where the file system has them),
 * so two equal signatures stabilityMs apart mean nobody wrote in between. 50 ms: a writer that
 * pauses longer than that mid-file is rare, and the spec is then also decided by its hash, so a
 * later complete version of it is still a change the rules see (trigger_on_change).
 */
export const DEFAULT_STABILITY_MS = 50;

/**
 * The signature, and whether the mtime alone already proves the file quiet for `quietMs`: last
 * written longer ago than that, by a file system with sub-second mtimes (a whole-second mtime may
 * be one that was rounded down, so it proves nothing and the window is waited out).
 */
function fileState(path: string, quietMs = 0): { sig: string; quiet: boolean } | null {
  try {
    const st = statSync(path, { bigint: true });
    if (!st.isFile()) return null;
    const fine = st.mtimeNs % 1_000_000_000n !== 0n;
    const ageMs = Date.now() - Number(st.mtimeNs / 1_000_000n);
    return { sig: `${st.size}:${st.mtimeNs}`, quiet: quietMs > 0 && fine && ageMs >= quietMs };
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until the file holds still: the same size and mtime stabilityMs apart. False when it
 * disappeared or `closed()` says nobody wants the answer any more. An empty spec counts as not
 * written yet: editors and `>` redirections create the file before writing it, and the next write
 * brings an event.
 */
export async function settled(abs: string, stabilityMs: number, closed: () => boolean, allowEmpty = false): Promise<boolean> {
  // A file last written longer than the window ago (a plan written before its spec, a spec found
  // at start-up) is settled without waiting.
  const first = fileState(abs, stabilityMs);
  if (first?.quiet && !closed()) return allowEmpty || !first.sig.startsWith('0:');
  let before = first?.sig ?? null;
  for (;;) {
    if (before === null || closed()) return false;
    await sleep(stabilityMs);
    if (closed()) return false;
    const now = fileState(abs)?.sig ?? null;
    if (now === before) return allowEmpty || !now.startsWith('0:');
    before = now;
  }
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
