#!/bin/sh
# The agent of the real-loopd cluster test (loopd-cluster.test.ts, agent=command): does one plan
# task per invocation, as test/fixtures/fake-agent.mjs does, between start and end lines on a shared
# ledger written from the agent's side, so the test proves from outside loopd's records that no step
# ran on two hosts at once. A shell script rather than node: a cluster test runs dozens of agent
# steps, and what the agent is written in is not what it tests. The plan is read and rewritten by
# builtins: per call it starts a `date` per ledger line, its sleep, and the commit's two git.
#   env: CLUSTER_LEDGER (the ledger) and CLUSTER_TEST_HOST (the host's name), from the daemon's
#   environment, which agents inherit; LOOP_RUN_ID, LOOP_PHASE, LOOP_ITERATION, LOOP_PLAN_PATH
#   (from loopd); FAKE_SLEEP_MS (think this long first), unless the file CLUSTER_THINK_FILE names
#   exists: then its number (the test stops all thinking once it needs no more agents to kill).
#   A SIGTERM (loopd stopping the agent: a lost lease, a cancel) writes 'stopped'; a SIGKILL of
#   the whole host writes nothing, and the test uses the kill's time.
set -u
line() {
  printf '{"what":"%s","host":"%s","runId":"%s","phase":"%s","iteration":%s,"pid":%s,"t":%s}\n' \
    "$1" "$CLUSTER_TEST_HOST" "${LOOP_RUN_ID:-}" "${LOOP_PHASE:-implementation}" "${LOOP_ITERATION:-0}" "$$" "$(date +%s%3N)" >>"$CLUSTER_LEDGER"
}
line start
trap 'line stopped; exit 143' TERM
# The prompt on stdin is a file (the spawn wrapper's redirect): left unread, it holds nothing up.
echo "cluster-agent: iteration ${LOOP_ITERATION:-?} of run ${LOOP_RUN_ID:-?} on ${CLUSTER_TEST_HOST}"
ms=${FAKE_SLEEP_MS:-0}
if [ -n "${CLUSTER_THINK_FILE:-}" ] && [ -e "$CLUSTER_THINK_FILE" ]; then read -r ms <"$CLUSTER_THINK_FILE"; fi
if [ "$ms" -gt 0 ]; then
  echo "cluster-agent: thinking for $ms ms"
  # In the background and waited for, so a SIGTERM is handled at once, not after the sleep.
  sleep "$((ms / 1000)).$((ms / 100 % 10))$((ms / 10 % 10))$((ms % 10))" &
  wait $!
fi
# The first open task is done and checked off; n counts the tasks checked so far, this one too.
task= n=1 open= plan=
while IFS= read -r l || [ -n "$l" ]; do
  case $l in
    '- [x] '* | '- [X] '*) n=$((n + 1)) ;;
    '- [ ] '*) if [ -z "$task" ]; then task=${l#'- [ ] '} l="- [x] ${l#'- [ ] '}"; else open=1; fi ;;
  esac
  plan="$plan$l
"
done <"$LOOP_PLAN_PATH"
if [ -n "$task" ]; then
  echo "run ${LOOP_RUN_ID:-?} did task $n in iteration ${LOOP_ITERATION:-?}: $task" >"task-$n.txt"
  printf '%s' "$plan" >"$LOOP_PLAN_PATH"
  git add -A && git -c user.name=fake -c user.email=fake@localhost commit -q -m "cluster-agent: task $n: $task" || exit 1
  echo "cluster-agent: did task $n: $task"
fi
[ -n "$open" ] || echo '<promise>COMPLETE</promise>'
line end
