// The Node flags every launch of the daemon uses (bin/loopd, `loopctl daemon start`, the service
// units; bin/loopd is a sh script and repeats them, see there).
//
// --max-semi-space-size=2 (MB): V8's young generation otherwise grows toward 16-32 MB per
// semi-space when output streams allocate fast, and stays grown. Measured with 5 runs streaming
// 20 MB each to 5 `tail -f` readers (`BENCH_ONLY=memory npm run bench`, docs/performance.md):
// peak RSS 140 MB with it against 200-230 MB without, and a lower idle RSS; the extra scavenges
// cost nothing a user can see next to an agent.
export const DAEMON_NODE_FLAGS: readonly string[] = ['--disable-warning=ExperimentalWarning', '--max-semi-space-size=2'];
