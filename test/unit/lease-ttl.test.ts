import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_LEASE_TTL_SEC, parseLeaseTtlSec } from '../../core/config.js';

describe('parseLeaseTtlSec', () => {
  it('takes whole and decimal seconds within 1..3600', () => {
    expect(parseLeaseTtlSec('30', '--lease-ttl-sec')).toBe(30);
    expect(parseLeaseTtlSec(' 1.5 ', 'LOOPD_LEASE_TTL_SEC')).toBe(1.5);
    expect(parseLeaseTtlSec('1', '--lease-ttl-sec')).toBe(1);
    expect(parseLeaseTtlSec('3600', '--lease-ttl-sec')).toBe(3600);
    expect(DEFAULT_LEASE_TTL_SEC).toBe(30);
  });

  it.each(['0', '0.5', '3601', '-5', '', 'abc', '30s', '1e2', 'Infinity', '1.'])('refuses "%s" with a line naming the source, the range and an example', (bad) => {
    expect(() => parseLeaseTtlSec(bad, '--lease-ttl-sec')).toThrow(ConfigError);
    expect(() => parseLeaseTtlSec(bad, '--lease-ttl-sec')).toThrow(`invalid --lease-ttl-sec "${bad}": expected seconds between 1 and 3600 (default 30), e.g. --lease-ttl-sec 30`);
    expect(() => parseLeaseTtlSec(bad, 'LOOPD_LEASE_TTL_SEC')).toThrow(/e\.g\. LOOPD_LEASE_TTL_SEC=30$/);
  });
});
