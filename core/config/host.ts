// Host settings of a loopd sharing a PostgreSQL database (docs/scaling.md): not keys of a run's
// LoopConfig, but parsed with the same one-line errors.
import { ConfigError } from './values.js';

/** Seconds a step's lease lasts without a heartbeat (`--lease-ttl-sec`, `LOOPD_LEASE_TTL_SEC`). */
export const DEFAULT_LEASE_TTL_SEC = 30;
// Below a second the heartbeat (every third of it) would compete with the work; above an hour a
// dead host's steps would wait too long for another host.
const LEASE_TTL_RANGE = { min: 1, max: 3600 } as const;

/**
 * The lease TTL of this host, in seconds (a decimal is fine: 1.5). A step whose host stopped
 * renewing is handed to another host this long after its last renewal.
 */
export function parseLeaseTtlSec(text: string, source: string): number {
  const t = text.trim();
  const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : Number.NaN;
  if (!Number.isFinite(n) || n < LEASE_TTL_RANGE.min || n > LEASE_TTL_RANGE.max) {
    throw new ConfigError(
      `invalid ${source} "${text}": expected seconds between ${LEASE_TTL_RANGE.min} and ${LEASE_TTL_RANGE.max} (default ${DEFAULT_LEASE_TTL_SEC}), e.g. ${source.startsWith('--') ? `${source} 30` : `${source}=30`}`,
    );
  }
  return n;
}
