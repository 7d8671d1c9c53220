// What an agent's failure means, from its own words. The table is built from real Claude Code
// (2.1.x) and Codex (0.17x) output captured against a scripted API (test/fixtures/transcripts),
// and decides what loopd does next: fail at once (the user must fix something), retry on the
// transient budget (the API will come back), or retry as an ordinary failure.
//
// No Node imports: the dashboard bundles this for the browser.

export const AGENT_ERROR_KINDS = ['auth', 'root_refused', 'context_too_long', 'rate_limit', 'overloaded', 'network', 'unknown'] as const;
export type AgentErrorKind = (typeof AGENT_ERROR_KINDS)[number];

/** fatal: fail the run now; transient: wait and retry (transient_retries); retry: claude_retries. */
export type ErrorAction = 'fatal' | 'transient' | 'retry';

interface Rule {
  kind: AgentErrorKind;
  action: ErrorAction;
  pattern: RegExp;
}

// Order matters: the first match wins. "Invalid API key" beats a 401 that also mentions a retry,
// a refusal to run as root beats everything.
export const ERROR_RULES: readonly Rule[] = [
  { kind: 'root_refused', action: 'fatal', pattern: /cannot be used with root\/sudo privileges|--dangerously-skip-permissions.*root/i },
  {
    kind: 'auth',
    action: 'fatal',
    pattern:
      /invalid api key|incorrect api key|invalid x-api-key|invalid_api_key|authentication_error|authentication_failed|\b401\b[^\n]*unauthori[sz]ed|unauthori[sz]ed[^\n]*\b401\b|please run \/login|not logged in|oauth token (?:has )?expired|credit balance is too low|insufficient_quota/i,
  },
  {
    kind: 'context_too_long',
    action: 'retry',
    pattern: /prompt is too long|context[_ ]length[_ ]exceeded|contextwindowexceeded|maximum context length|exceeds the context window|input is too long/i,
  },
  {
    kind: 'rate_limit',
    action: 'transient',
    pattern: /rate[\s_-]?limit|too many requests|\b429\b|usage limit|limit reached|hit your (?:usage )?limit|rate_limit_error/i,
  },
  {
    kind: 'overloaded',
    action: 'transient',
    pattern:
      /overloaded|at capacity|\b5\d\d\b (?:error|status)|(?:API Error|status(?: code)?|HTTP(?:\/\d(?:\.\d)?)?|error)[:\s]*5\d\d\b|internal server error|bad gateway|service unavailable|gateway time-?out|server_error|server-side issue/i,
  },
  {
    kind: 'network',
    action: 'transient',
    pattern:
      /unable to connect to api|connection refused|ECONNREFUSED|ConnectionRefused|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|socket hang up|stream disconnected|network error|waiting for network|connection failed|error sending request|fetch failed/i,
  },
];

export interface ErrorClass {
  kind: AgentErrorKind;
  action: ErrorAction;
  /** What the user should do, when there is something to do. */
  fix: string | null;
}

/** What the user should do about an error, by kind; an agent kind's record adds or replaces entries (its login command). */
export type ErrorFixes = Partial<Record<AgentErrorKind, string>>;

// Claude Code's login is the default: a command agent most often wraps it.
export const COMMON_FIXES: Readonly<ErrorFixes> = {
  auth: "run `claude login` as the user running loopd, or set ANTHROPIC_API_KEY in the daemon's environment, then `loopctl daemon restart`",
  root_refused: "run loopd as a normal user, or on a sandbox machine set IS_SANDBOX=1 in the daemon's environment, then `loopctl daemon restart`",
  context_too_long: 'the conversation outgrew the model: split the plan into smaller tasks or trim context_files',
};

/** The fix for an error kind, the agent kind's own first. Callers with a kind name use kinds/index.ts's fixFor. */
export function errorFix(kind: AgentErrorKind, fixes: Readonly<ErrorFixes> = {}): string | null {
  return fixes[kind] ?? COMMON_FIXES[kind] ?? null;
}

/** The first matching row of the table; `fixes` are the agent kind's own. */
export function classifyAgentError(message: string, fixes: Readonly<ErrorFixes> = {}): ErrorClass {
  for (const r of ERROR_RULES) {
    if (r.pattern.test(message)) return { kind: r.kind, action: r.action, fix: errorFix(r.kind, fixes) };
  }
  return { kind: 'unknown', action: 'retry', fix: null };
}

/** Collapses whitespace and caps the length: one readable line for events, list and inspect. */
export function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
