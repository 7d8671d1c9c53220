#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (and for trying two hosts by hand).
#   scripts/pg-test-cluster.sh start     -> prints "url=<postgres url>" and "dir=<cluster dir>"
#   scripts/pg-test-cluster.sh stop DIR  -> stops that cluster and deletes its directory
# It uses the machine's PostgreSQL binaries (PG_BIN, else the newest /usr/lib/postgresql/*/bin).
# The server listens only on a Unix socket inside the cluster directory, on a free port number,
# so it never collides with a system PostgreSQL. The initdb result is kept in
# $TMPDIR/loopd-pg-initdb-<version>-<owner> and copied for each cluster (delete it at will). PostgreSQL refuses to run as root, so when this
# runs as root the cluster belongs to the `postgres` user (or `nobody` when there is none).
set -euo pipefail

bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "pg-test-cluster: no PostgreSQL binaries found (install the postgresql package, or set PG_BIN to the directory holding initdb)" >&2
  exit 1
fi

as_owner=()
owner="$(id -un)"
if [ "$(id -u)" -eq 0 ]; then
  if id postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
  as_owner=(runuser -u "$owner" --)
fi

case "${1:-}" in
  start)
    # Under the real temp directory even when a test run points TMPDIR at its own (vitest.config.ts):
    # the server's user must be able to enter it, and the initdb cache must outlive the run.
    tmp="${LOOPD_TEST_STABLE_TMPDIR:-${TMPDIR:-/tmp}}"
    # The cluster itself where the test run says (vitest.config.ts: in memory when /dev/shm is a
    # tmpfs; every test database is a directory of ~300 files copied and removed).
    dir="$(mktemp -d "${LOOPD_TEST_CLUSTER_TMPDIR:-$tmp}/loopd-pg.XXXXXX")"
    chmod 755 "$dir"
    [ "$owner" != "$(id -un)" ] && chown "$owner" "$dir"
    # A free port: the kernel picks one for a throwaway listener, then the server takes it.
    port="$(node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
    # initdb is most of the cost of a start (a second or two of a busy machine), and its result is
    # the same every time for one PostgreSQL version and owner: made once into a cache beside the
    # clusters and copied from there (a fraction of the cost). The cache appears whole or not at all
    # (made aside, then renamed), so runs starting at once never see half of one.
    version="$("$bin/initdb" --version | awk '{print $3}')"
    cache="$tmp/loopd-pg-initdb-$version-$owner"
    if [ ! -f "$cache/PG_VERSION" ]; then
      fresh="$dir/fresh"
      if ! "${as_owner[@]}" "$bin/initdb" -D "$fresh" -U loopd --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1; then
        echo "pg-test-cluster: initdb failed, see $dir/initdb.log:" >&2; tail -n 20 "$dir/initdb.log" >&2; exit 1
      fi
      mv -T "$fresh" "$cache" 2>/dev/null || rm -rf "$fresh"
    fi
    "${as_owner[@]}" cp -a "$cache" "$dir/data"
    # Durability off: a test cluster is thrown away, and fsync on a shared 2-core box is slow.
    # Small shared buffers: the test databases are tiny, and every backend (~440 per npm test) maps
    # the pages it touches, which its exit then tears down.
    if ! "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=16MB" \
        start >/dev/null; then
      echo "pg-test-cluster: the server did not start, see $dir/server.log:" >&2; tail -n 20 "$dir/server.log" >&2; exit 1
    fi
    echo "url=postgresql://loopd@localhost:$port/postgres?host=$dir"
    echo "dir=$dir"
    ;;
  stop)
    dir="${2:?usage: pg-test-cluster.sh stop DIR}"
    if [ -d "$dir/data" ]; then "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg-test-cluster.sh start | stop DIR" >&2; exit 2 ;;
esac
