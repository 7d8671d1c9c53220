// Run artifacts on disk: where they live, and writing them so a crash never leaves half a file.
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { runFiles } from './artifact-names.js';
import { writeFileAtomic } from './atomic-file.js';
import { checksumStream } from './logfile.js';
import { isAbsolute, join, resolve } from 'node:path';

export type ArtifactMode = 'workspace' | 'global' | 'mirror';

export interface RunDirs {
  /** Where live output is written (workspace dir unless artifact_mode=global). */
  primary: string;
  workspace: string | null;
  global: string | null;
}

export function runDirName(runId: string): string {
  return `run-${runId}`;
}

export function resolveRunDirs(opts: {
  mode: ArtifactMode;
  workspaceRoot: string;
  logDir: string;
  globalLogDir: string;
  home: string;
  runId: string;
}): RunDirs {
  const name = runDirName(opts.runId);
  const wsBase = isAbsolute(opts.logDir) ? opts.logDir : resolve(opts.workspaceRoot, opts.logDir);
  const globalBase = opts.globalLogDir ? resolve(opts.globalLogDir) : join(opts.home, 'runs');
  const workspace = opts.mode === 'global' ? null : join(wsBase, name);
  const global = opts.mode === 'workspace' ? null : join(globalBase, name);
  return { primary: (workspace ?? global)!, workspace, global };
}

export { writeFileAtomic };

/** sha256 and size, streamed: logs can be large. */
export function checksumFile(path: string): { checksum: string; bytes: number } {
  return checksumStream(path);
}

/**
 * The last `n` lines of `text`, newline-terminated. Found from the end, so a 4 MiB window of long
 * lines is neither split into an array nor joined into a copy: the result shares the text.
 */
export function lastLines(text: string, n: number): string {
  if (text === '') return '';
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (n <= 0) return splitLastLines(text, n);
  let end = body.length;
  for (let found = 0; end > 0; found++) {
    const nl = body.lastIndexOf('\n', end - 1);
    if (nl < 0) break;
    if (found + 1 === n) return body.slice(nl + 1) + '\n';
    end = nl;
  }
  return body + '\n';
}

/** lastLines' meaning for a count that is not positive (`slice(-n)` semantics). */
function splitLastLines(text: string, n: number): string {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n).join('\n') + (lines.length > 0 ? '\n' : '');
}

// report.tsv has its own module (report.ts); re-exported for the callers that still import it here.
export { appendReportRow, REPORT_COLUMNS, type ReportRow } from './report.js';

export interface Summary {
  run_id: string;
  run_name: string;
  status: string;
  start_ms: number;
  end_ms: number;
  total_duration_ms: number;
  iterations_run: number;
  completed_iteration: number | null;
  avg_duration_ms: number | null;
  last_exit_code: number | null;
  completion_mode: string;
  model: string;
  /** One of complete_plan, iterations_exhausted, claude_failed, agent_failed, failed, canceled. */
  exit_reason: string;
  /** The precise reason (e.g. max_consecutive_failures:verification:3, merge_conflict). */
  exit_detail: string;
  tasks_done: number | null;
  tasks_total: number | null;
  /** How completion was proven: complete_token (the agent also said so) or complete_facts; null if not. */
  completion?: string | null;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  /** The run's last error in one readable line (the agent's own words where it gave any). */
  last_error: string | null;
  run_branch: string;
  merge_target_branch: string | null;
  merge_commit: string | null;
  run_log: string | null;
  report: string;
  prompt_snapshot: string | null;
  last_iteration_log: string | null;
  last_iteration_tail: string | null;
}

export function writeSummary(runDir: string, summary: Summary): string {
  const path = runFiles(runDir).summary;
  writeFileAtomic(path, JSON.stringify(summary, null, 2) + '\n');
  return path;
}

/** Files from this size up are hard-linked into the mirror, not copied: a log must not take twice its space. */
export const MIRROR_LINK_BYTES = 1024 * 1024;

/**
 * Mirrors every regular file of `from` into `to` (the global mirror); returns the mirrored paths.
 * Large files are hard links (same disk blocks); across file systems, where a link is impossible,
 * they are copied, which max_output_bytes bounds.
 */
export function mirrorDir(from: string, to: string): string[] {
  if (!existsSync(from)) return [];
  mkdirSync(to, { recursive: true });
  const copied: string[] = [];
  for (const name of readdirSync(from)) {
    if (name.endsWith('.tmp')) continue;
    const src = join(from, name);
    if (!statSync(src).isFile()) continue;
    const dst = join(to, name);
    const tmp = `${dst}.${randomBytes(4).toString('hex')}.tmp`;
    let linked = false;
    const st = statSync(src);
    if (st.size >= MIRROR_LINK_BYTES && existsSync(dst) && statSync(dst).ino === st.ino) {
      // Already the same file: renaming a link over its twin does nothing and would leave tmp.
      copied.push(dst);
      continue;
    }
    if (st.size >= MIRROR_LINK_BYTES) {
      try {
        linkSync(src, tmp);
        linked = true;
      } catch {
        rmSync(tmp, { force: true });
      }
    }
    if (!linked) copyFileSync(src, tmp);
    renameSync(tmp, dst);
    copied.push(dst);
  }
  return copied;
}

