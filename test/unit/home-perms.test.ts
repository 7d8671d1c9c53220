import { chmodSync, mkdirSync, mkdtempSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secureHome } from '../../host/home-perms.js';
import { ensureToken, MIN_TOKEN_LENGTH } from '../../host/main.js';
import { isSuperjsonEnvelope, transformer } from '../../router/transformer.js';

const temp = () => realpathSync(mkdtempSync(join(tmpdir(), 'loopd-perm-')));
const mode = (p: string) => statSync(p).mode & 0o777;

describe('secureHome', () => {
  it('tightens the data dir to 700 and its files to 600, and says what it changed', () => {
    const home = temp();
    chmodSync(home, 0o755);
    writeFileSync(join(home, 'auth-token'), 'x', { mode: 0o644 });
    writeFileSync(join(home, 'daemon.json'), '{}', { mode: 0o600 });
    mkdirSync(join(home, 'runs'), { mode: 0o755 });
    const changed = secureHome(home);
    expect(mode(home)).toBe(0o700);
    expect(mode(join(home, 'auth-token'))).toBe(0o600);
    expect(changed).toEqual([`${home} 755 -> 700`, `${join(home, 'auth-token')} 644 -> 600`]);
    // Inside a 700 dir nothing else needs a walk.
    expect(mode(join(home, 'runs'))).toBe(0o755);
    expect(secureHome(home)).toEqual([]);
  });
});

describe('ensureToken', () => {
  it(`refuses a LOOPD_AUTH_TOKEN shorter than ${MIN_TOKEN_LENGTH} characters, in one line`, () => {
    const home = temp();
    expect(() => ensureToken(home, { LOOPD_AUTH_TOKEN: 'short' })).toThrow(
      /^LOOPD_AUTH_TOKEN is 5 characters long, too short to guard the API: use at least 16 \(e\.g\. the output of "openssl rand -hex 32"\), or unset it and loopd generates one$/,
    );
    expect(ensureToken(home, { LOOPD_AUTH_TOKEN: 'x'.repeat(16) })).toBe('x'.repeat(16));
  });

  it('refuses a short token in the token file, and generates a long one when there is none', () => {
    const home = temp();
    const generated = ensureToken(home, {});
    expect(generated.length).toBeGreaterThanOrEqual(32);
    expect(mode(join(home, 'auth-token'))).toBe(0o600);
    writeFileSync(join(home, 'auth-token'), 'abc\n');
    expect(() => ensureToken(home, {})).toThrow(/^the token in .*auth-token is 3 characters long/);
  });
});

describe('input transformer', () => {
  it('reads superjson envelopes and plain JSON alike', () => {
    const d = transformer.input.deserialize;
    expect(d({ json: { limit: 1 } })).toEqual({ limit: 1 });
    expect(d({ json: { at: '2026-01-01T00:00:00.000Z' }, meta: { values: { at: ['Date'] } } })).toEqual({ at: new Date('2026-01-01T00:00:00.000Z') });
    expect(d({ limit: 1 })).toEqual({ limit: 1 });
    expect(d({ run: 'x', json: 1 })).toEqual({ run: 'x', json: 1 });
    expect(d({})).toEqual({});
    expect(isSuperjsonEnvelope([1])).toBe(false);
    expect(isSuperjsonEnvelope(null)).toBe(false);
  });
});
