// Which program an agent kind runs, so a missing CLI is refused when the run is created instead of
// failing every iteration with exit 127. The switch is exhaustive: a new kind does not compile
// until it says what it runs.
import type { AgentKind } from './adapters.js';

/** The executable an agent kind needs on the daemon's PATH; null when the user's command is the agent. */
export function agentBinary(kind: AgentKind): string | null {
  switch (kind) {
    case 'claude':
      return 'claude';
    case 'codex':
      return 'codex';
    case 'command':
      // agent_cmd / reviewer_cmd: a shell command line (the fake and demo agents of the tests run
      // this way), checked by the shell when it starts.
      return null;
  }
}
