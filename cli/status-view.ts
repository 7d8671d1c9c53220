// The `loopctl daemon status` text, shared by the oclif command and the fast path.
import type { DaemonStatus } from '../router/index.js';
import { formatDuration } from './format.js';

export function statusLines(url: string, status: DaemonStatus): string[] {
  const counts = Object.entries(status.runs)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s.toLowerCase()}`);
  const rows: [string, string][] = [
    ['pid', String(status.pid)],
    ['address', url],
    ['version', status.version],
    ['uptime', formatDuration(status.uptimeMs)],
    ['home', status.home],
    ['concurrency', `max ${status.maxConcurrency}`],
    ['runs', counts.length > 0 ? counts.join(', ') : 'none'],
  ];
  // An older daemon does not report it.
  if (status.containment) rows.push(['containment', `${status.containment.cgroup ? 'cgroup' : 'process group + step nonce'}; agents get no LOOPD_* variables`]);
  return ['loopd is running', ...rows.map(([k, v]) => `  ${k.padEnd(12)} ${v}`)];
}
