// The database URL check, apart from the client so that loopd's start-up need not load pg for it.

/** Rejects anything that is not a postgres:// URL with a line that says what to write instead. */
export function checkDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`database URL "${url}" is not a URL: write postgres://user@host:5432/dbname (or unset LOOPD_DATABASE_URL for the built-in SQLite)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(`database URL "${url}" is not a postgres:// URL: only PostgreSQL is supported for several hosts (unset LOOPD_DATABASE_URL for the built-in SQLite)`);
  }
  return url;
}
