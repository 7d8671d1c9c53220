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
 * The signature (size and mtime), and how long ago the mtime says the file was last written when
 * the file system keeps sub-second mtimes (null otherwise: a whole-second mtime may be one that was
 * rounded down, so it proves nothing).
 */
function fileState(path: string): { sig: string; empty: boolean; ageMs: number | null } | null {
  try {
    const st = statSync(path, { bigint: true });
    if (!st.isFile()) return null;
    const fine = st.mtimeNs % 1_000_000_000n !== 0n;
    return { sig: `${st.size}:${st.mtimeNs}`, empty: st.size === 0n, ageMs: fine ? Date.now() - Number(st.mtimeNs / 1_000_000n) : null };
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until nobody has written the file for stabilityMs. False when it disappeared or `closed()`
 * says nobody wants the answer any more. An empty spec counts as not written yet: editors and `>`
 * redirections create the file before writing it, and the next write brings an event.
 *
 * With sub-second mtimes the window counts from the last write, which the mtime records: a file
 * last written longer ago than that (a plan written before its spec, a spec found at start-up) is
 * settled at once, and a fresh one after what is left of the window rather than a whole window
 * from when its event arrived. A write meanwhile moves the mtime and the wait starts again.
 * Otherwise (whole-second mtimes, or an mtime ahead of this host's clock) the size and mtime must
 * be seen unchanged for a whole window.
 */
export async function settled(abs: string, stabilityMs: number, closed: () => boolean, allowEmpty = false): Promise<boolean> {
  let sig: string | null = null;
  let seenSince = 0;
  for (;;) {
    const state = fileState(abs);
    if (state === null || closed()) return false;
    const now = performance.now();
    if (state.sig !== sig) {
      sig = state.sig;
      seenSince = now;
    }
    const held = Math.max(now - seenSince, state.ageMs ?? 0);
    if (held >= stabilityMs) return allowEmpty || !state.empty;
    await sleep(Math.max(1, Math.ceil(stabilityMs - held)));
    if (closed()) return false;
  }
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
