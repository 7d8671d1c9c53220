#!/usr/bin/env bash
# The packaged loopd as a user gets it: npm pack, install the tarball into a temporary prefix
# (offline: the dependencies travel inside the tarball, see bundleDependencies), then with Node 24
# on PATH start a daemon from the installed bin, complete a run with the shipped demo agent, and
# stop it; with an older Node first on PATH, loopctl must say in one line what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD
tmp=$(mktemp -d "${TMPDIR:-/tmp}/loopd-pack-XXXXXX")
daemon_started=0
cleanup() {
  if [ "$daemon_started" = 1 ]; then loopctl daemon stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

node24=$checkout/node_modules/node/bin
[ -x "$node24/node" ] || { echo "pack-install: $node24/node missing: run npm ci first" >&2; exit 1; }

npm pack --silent --pack-destination "$tmp" >/dev/null
tarball=$(ls "$tmp"/loopd-*.tgz)
npm install --global --prefix "$tmp/prefix" --offline --no-audit --no-fund --loglevel=error "$tarball" >/dev/null
pkg=$tmp/prefix/lib/node_modules/loopd
[ ! -e "$pkg/node_modules/node" ] || { echo "pack-install: the bundled Node dev dependency was installed" >&2; exit 1; }
# The daemon process runs from its single-file bundle (bin/loopd.js loads it): it must travel in the tarball.
[ -f "$pkg/dist/bundle/loopd.js" ] || { echo "pack-install: the tarball has no daemon bundle (dist/bundle/loopd.js)" >&2; exit 1; }
# So does loopctl past its fast path (bin/loopctl.js loads dist/bundle/loopctl.js).
[ -f "$pkg/dist/bundle/loopctl.js" ] || { echo "pack-install: the tarball has no loopctl bundle (dist/bundle/loopctl.js)" >&2; exit 1; }

export PATH="$tmp/prefix/bin:$node24:/usr/bin:/bin"
export LOOPD_HOME=$tmp/home LOOPD_ADDR=127.0.0.1:0
unset LOOPD_AUTH_TOKEN LOOP_CONFIG XDG_DATA_HOME
[ "$(command -v loopctl)" = "$tmp/prefix/bin/loopctl" ]

repo=$tmp/app
mkdir -p "$repo/specs/planning"
printf '# Greeter\n\nA greeting module.\n' > "$repo/specs/greeter.md"
printf '# Plan\n\n- [ ] greet.js: export greet(name)\n- [ ] docs/usage.md: how to call it\n' > "$repo/specs/planning/greeter-plan.md"
git -C "$repo" init -q -b main
git -C "$repo" -c user.name=ci -c user.email=ci@localhost add -A
git -C "$repo" -c user.name=ci -c user.email=ci@localhost commit -q -m init

loopctl daemon start >/dev/null
daemon_started=1
(cd "$repo" && loopctl run specs/greeter.md --wait --agent command --agent-cmd "node $pkg/test/fixtures/demo-agent.mjs" --no-reviewer > "$tmp/run.out") || {
  cat "$tmp/run.out" >&2
  exit 1
}
grep -q 'COMPLETED' "$tmp/run.out" || { cat "$tmp/run.out" >&2; exit 1; }
loopctl list --json | grep -q '"status": "COMPLETED"'
# The dashboard ships built in the package: sign in with the one-time link, get the page and its script.
url=$(loopctl dashboard --print-url)
node -e '
  const url = process.argv[1];
  const signIn = await fetch(url, { redirect: "manual" });
  const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0];
  if (signIn.status !== 303 || !cookie) throw new Error(`dashboard sign-in answered ${signIn.status}`);
  const page = await (await fetch(new URL("/", url), { headers: { cookie } })).text();
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(page)?.[1];
  if (!script) throw new Error("the dashboard page names no script: " + page.slice(0, 200));
  const js = await fetch(new URL(script, url));
  if (js.status !== 200 || (await js.text()).length < 1000) throw new Error(`dashboard script ${script}: ${js.status}`);
' "$url"
loopctl daemon stop >/dev/null
daemon_started=0

# An older Node first on PATH (the system one, when it is older): one line, naming the version.
old=
for candidate in /usr/bin/node /usr/local/bin/node; do
  if [ -x "$candidate" ] && ! "$candidate" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>24||(a===24&&b>=15)?0:1)'; then
    old=$candidate
    break
  fi
done
if [ -n "$old" ]; then
  set +e
  msg=$(PATH="$tmp/prefix/bin:$(dirname "$old"):/usr/bin:/bin" loopctl --version 2>&1)
  code=$?
  set -e
  [ "$code" = 1 ] || { echo "pack-install: expected exit 1 on $old, got $code: $msg" >&2; exit 1; }
  [ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] || { echo "pack-install: expected one line, got: $msg" >&2; exit 1; }
  case $msg in
    "loopd needs Node >= 24.15.0 (found v"*"install Node 24"*) ;;
    *) echo "pack-install: unexpected message on $old: $msg" >&2; exit 1 ;;
  esac
  echo "pack-install: on $("$old" --version) loopctl says: $msg"
fi
echo "pack-install: installed tarball ran a spec to COMPLETED"
