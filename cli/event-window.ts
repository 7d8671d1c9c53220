// -n/--last and --since of `events` (and --since of `tail`): which recent history to start from.
import { UserError } from './user-error.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * --since: a duration back from now ("90s", "10m", "1h30m", "2d") or a point in time ("14:05",
 * "2026-11-30 14:05", or any ISO 8601 timestamp; without a zone it is local time). Returns epoch ms.
 */
export function parseSince(text: string, now = Date.now()): number {
  const t = text.trim();
  if (/^(\d+(?:\.\d+)?(ms|s|m|h|d|w))+$/i.test(t)) {
    let ms = 0;
    for (const [, n, unit] of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gi)) ms += Number(n) * (UNITS[(unit ?? '').toLowerCase()] ?? 0);
    return Math.round(now - ms);
  }
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (clock) {
    // A time of day means today, or yesterday when that time has not come yet.
    const d = new Date(now);
    d.setHours(Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0), 0);
    if (Number(clock[1]) > 23 || Number(clock[2]) > 59 || Number(clock[3] ?? 0) > 59) throw badSince(text);
    return d.getTime() > now ? d.getTime() - UNITS.d! : d.getTime();
  }
  if (/^\d{4}-\d{2}-\d{2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(t)) {
    // Date-only ISO strings parse as UTC; a person typing a date means their own midnight.
    const local = /^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00` : t.replace(' ', 'T');
    const ms = Date.parse(local);
    if (Number.isFinite(ms)) return ms;
  }
  throw badSince(text);
}

function badSince(text: string): UserError {
  return new UserError(
    `invalid --since "${text}": give a duration back from now (90s, 10m, 1h30m, 2d) or a time (14:05, 2026-11-30 14:05, an ISO 8601 timestamp)`,
    2,
  );
}

/** -n/--last: a count of events, or "all". */
export function parseLast(text: string): number | 'all' {
  const t = text.trim().toLowerCase();
  if (t === 'all') return 'all';
  if (/^\d+$/.test(t)) return Number(t);
  throw new UserError(`invalid --last "${text}": give a number of events, or "all"`, 2);
}

/** How much history `-f` shows first when neither --last nor --since is given. */
export const FOLLOW_DEFAULT_LAST = 20;

/**
 * The window to ask the daemon for: without -f the whole history unless limited; with -f the last
 * FOLLOW_DEFAULT_LAST events unless --last or --since says otherwise.
 */
export function eventWindow(opts: { follow: boolean; last?: number | 'all' | undefined; since?: number | undefined }): {
  last?: number;
  since?: number;
} {
  const out: { last?: number; since?: number } = {};
  if (opts.since !== undefined) out.since = opts.since;
  if (typeof opts.last === 'number') out.last = opts.last;
  else if (opts.last === undefined && opts.since === undefined && opts.follow) out.last = FOLLOW_DEFAULT_LAST;
  return out;
}
