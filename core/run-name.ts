// Memorable run names suggested by an agent ("fast-cache" rather than "spec-3-2"). Purely a
// nicety: every failure comes back as { name: null, reason } and the caller falls back to the
// deterministic name from core/naming.ts.
import { parseAgentOutput, type AgentKind } from './agents/adapters.js';
import { runOneShot } from './agents/oneshot.js';
import { slugify } from './naming.js';

// A name needs the gist, not the whole spec: long specs would only make the call slow and dear.
const MAX_SPEC_CHARS = 6000;
const MAX_NAME_CHARS = 40;
const MAX_NAME_WORDS = 5;
const DEFAULT_TIMEOUT_MS = 60_000;

export function haikuPrompt(specText: string): string {
  const spec = specText.trim();
  const excerpt = spec.length > MAX_SPEC_CHARS ? `${spec.slice(0, MAX_SPEC_CHARS)}\n[... spec truncated ...]` : spec;
  return [
    'Suggest a short, memorable name for the piece of work described below.',
    'Rules: 2 to 4 words, lowercase, kebab-case (words joined by hyphens), letters and digits only,',
    'descriptive of the work (for example: fast-cache, oauth-login-flow, csv-export).',
    'Reply with the name only: no quotes, no explanation, nothing else.',
    'Do not use any tools and do not change any files.',
    '',
    '<spec>',
    excerpt,
    '</spec>',
  ].join('\n');
}

// Models dress a bare answer up: quotes, code spans, bold, list bullets, a "Name:" label.
const DECORATION = /[`*_~"'\u2018\u2019\u201c\u201d\u00ab\u00bb]/g;
const LEADING_MARKERS = /^(?:[#>\-+•\s]+|\d+[.)]\s+)+/;
// A dash only counts as a separator with a space after it: "name-generator" is a fine name.
const LABEL = /^(?:(?:suggested|proposed)\s+)?(?:run\s+)?name\s*(?:[:=]|[-\u2013\u2014]\s)\s*/i;

function clean(line: string): string {
  let s = line.replace(DECORATION, ' ').trim();
  s = s.replace(LEADING_MARKERS, '').trim();
  s = s.replace(LABEL, '').trim();
  return s.replace(/[.!]+$/, '').trim();
}

/** The name in an agent's reply, as a slug, or null when the reply is not just a name. */
export function parseHaikuName(text: string): string | null {
  for (const raw of text.split('\n')) {
    // A code fence or a bare "Name:" label line carries nothing: look at the next line.
    if (/^\s*(?:```|~~~)/.test(raw)) continue;
    const line = clean(raw);
    if (line === '') continue;
    const slug = slugify(line);
    // slugify turns "nothing usable" (emoji, CJK) into "run"; only a literal "run" is that name.
    if (slug === 'run' && !/^\W*run\W*$/i.test(line)) return null;
    if (slug.length > MAX_NAME_CHARS) return null;
    const words = slug.split('-');
    if (words.length > MAX_NAME_WORDS) return null;
    if (!words.every((w) => /^[a-z0-9]+$/.test(w))) return null;
    return slug;
  }
  return null;
}

function firstLine(text: string, max = 120): string {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '') ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export async function suggestRunName(opts: {
  agentCommand: string;
  kind: AgentKind;
  cwd: string;
  specText: string;
  timeoutMs?: number;
}): Promise<{ name: string | null; reason: string }> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    // LOOP_PHASE tells a command agent this is not a coding step.
    const r = await runOneShot({ command: opts.agentCommand, cwd: opts.cwd, prompt: haikuPrompt(opts.specText), timeoutMs, env: { LOOP_PHASE: 'naming' } });
    if (r.timedOut) return { name: null, reason: `name agent timed out after ${Math.round(timeoutMs / 1000)}s` };
    if (r.exitCode !== 0) {
      const why = r.exitCode === null ? 'was killed or did not start' : `exited with code ${r.exitCode}`;
      const detail = firstLine(r.output);
      return { name: null, reason: `name agent ${why}${detail ? `: ${detail}` : ''}` };
    }
    const text = parseAgentOutput(opts.kind, r.output).text;
    const name = parseHaikuName(text);
    if (name === null) {
      const reply = firstLine(text);
      return { name: null, reason: reply ? `name agent reply is not a short name: "${reply}"` : 'name agent replied with nothing' };
    }
    return { name, reason: `name suggested by the ${opts.kind} agent` };
  } catch (e) {
    // runOneShot does not throw; this guards the parsers, so naming can never fail a run.
    return { name: null, reason: `name suggestion failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}
