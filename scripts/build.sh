#!/usr/bin/env bash
# npm run build: the sources into dist/ (tsc -b tsconfig.json), the daemon bundled into one file
# (dist/bundle/loopd.js) and so is loopctl's oclif side (dist/bundle/loopctl.js), the oclif manifest, the dashboard type-checked and bundled into
# dist/dashboard. With --tests (npm test's pretest) the tests are type-checked too. Any type error
# in the sources, the tests or the dashboard fails the build.
#
# The steps run side by side where they do not depend on each other, in two lanes for two cores:
#   vite build, esbuild (daemon, cli)───────────┐   (both bundle from the sources, need no dist/)
#   tsc -b tsconfig.json ─┬─ tsc -b dashboard/tsconfig.json, oclif manifest
#                         └─ tsc -b tsconfig.check-tests.json (--tests)
# The dashboard and test checks read the sources' declarations from dist/ instead of checking the
# sources again (project references). tsc -b skips a project whose inputs did not change since its
# build info (dist/*.tsbuildinfo) was written.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

tests=0
case "${1:-}" in
  --tests) tests=1 ;;
  '') ;;
  *) echo "build.sh: unknown option '$1' (the only one is --tests)" >&2; exit 2 ;;
esac

# A failed step ends the build; what still runs beside it is stopped.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

vite build --config dashboard/vite.config.ts &
bundle=$!

# The daemon and loopctl's oclif side as one ES module each (dist/bundle/loopd.js and
# dist/bundle/loopctl.js, what bin/loopd.js and bin/loopctl.js load): see the script.
node scripts/bundle.mjs &
daemon_bundle=$!

tsc -b tsconfig.json

tsc -b dashboard/tsconfig.json &
dashboard=$!
if [ "$tests" = 1 ]; then
  tsc -b tsconfig.check-tests.json &
  typecheck=$!
fi
oclif manifest

failed=0
wait "$bundle" || { echo "build.sh: vite build of the dashboard failed" >&2; failed=1; }
wait "$daemon_bundle" || { echo "build.sh: esbuild could not bundle the daemon or loopctl (scripts/bundle.mjs)" >&2; failed=1; }
wait "$dashboard" || { echo "build.sh: the dashboard does not type-check (tsc -b dashboard/tsconfig.json)" >&2; failed=1; }
if [ "$tests" = 1 ]; then
  wait "$typecheck" || { echo "build.sh: the tests do not type-check (tsc -b tsconfig.check-tests.json)" >&2; failed=1; }
fi
exit "$failed"
