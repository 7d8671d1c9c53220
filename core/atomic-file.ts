// Whole-file writes that a crash cannot tear.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes via a temp file and rename, so readers see the old or the new file, never a torn one.
 * Several buffers are written one after the other (no concatenated copy of a large content).
 */
export function writeFileAtomic(path: string, content: string | Buffer | readonly Buffer[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  if (typeof content === 'string' || Buffer.isBuffer(content)) {
    writeFileSync(tmp, content);
  } else {
    const fd = openSync(tmp, 'w');
    try {
      for (const part of content) for (let done = 0; done < part.length; ) done += writeSync(fd, part, done, part.length - done);
    } finally {
      closeSync(fd);
    }
  }
  renameSync(tmp, path);
}
