// The implementation prompt: one task per iteration, progress recorded in the plan, and a
// completion token the agent may print only when the plan has nothing left open.
import { COMPLETION_TOKEN, type CompletionMode } from './types.js';

export interface PromptInput {
  specPath: string;
  planPath: string | null;
  /** Contents of .loop/prompt.txt or prompt_file; replaces the default body. */
  template?: string | null;
  contextFiles?: { path: string; content: string }[];
  /** What loopd undid in the previous iteration and why (tampering, ticks without work). */
  loopdNotes?: string[];
  runnerNotesPath?: string | null;
  reviewNotesPath?: string | null;
  /** Watchdog intervention text; goes first so it is read before anything else. */
  rewrite?: string | null;
  completionMode: CompletionMode;
  iteration: number;
}

const NO_PLAN = '(no plan file)';

function tokenRule(mode: CompletionMode, when: string): string {
  const how =
    mode === 'exact'
      ? `your entire output must be exactly ${COMPLETION_TOKEN} and nothing else`
      : `print ${COMPLETION_TOKEN} on its own as the very last line of your output`;
  return [
    `- When, and only when, ${when}, ${how}.`,
    `- Never print ${COMPLETION_TOKEN} in any other case, not even to quote or discuss it.`,
  ].join('\n');
}

function defaultBody(p: PromptInput): string {
  const header = [
    `You are an autonomous coding agent working in a git worktree (iteration ${p.iteration}).`,
    'Everything you need is in the files below; there is no one to ask.',
  ];
  if (p.planPath === null) {
    return [
      ...header,
      '',
      `Read the spec at ${p.specPath} and implement it. Keep it simple: do what the spec asks, nothing more.`,
      '',
      'Rules:',
      '- Verify your work (build, tests, or whatever the spec calls for) before finishing.',
      '- Commit all your changes with a descriptive message.',
      tokenRule(p.completionMode, 'the spec is fully implemented and verified'),
    ].join('\n');
  }
  return [
    ...header,
    '',
    `1. Read the spec at ${p.specPath} and the plan at ${p.planPath}.`,
    '2. Pick exactly ONE open task (a `[ ]` item) from the plan.',
    '3. Implement it, then verify it (build, run the relevant tests).',
    `4. Mark that task \`[x]\` in ${p.planPath}.`,
    '5. Commit all changes with a descriptive message.',
    '',
    'Rules:',
    '- Do one task per iteration, then stop.',
    '- The spec is read-only. In the plan you may only tick the task you finished (`[ ]` -> `[x]`), add new `- [ ]` tasks you discover, append a note after the text of a task (`- [x] task (note)`), and edit prose: never remove or reword a task, and never write `[R]` or `[~]` (only the reviewer marks tasks reviewed).',
    '- A tick needs the work: the commit that ticks a task must contain its change.',
    '- If a task cannot be done, leave it `[ ]` and write the reason on the line below it.',
    '- Only add commits to the current branch: never reset, rebase, amend or switch branches.',
    tokenRule(p.completionMode, 'no open tasks (`[ ]` or `[~]`) remain in the plan'),
  ].join('\n');
}

function substitute(template: string, p: PromptInput): string {
  const vars: Record<string, string> = {
    SPEC_PATH: p.specPath,
    PLAN_PATH: p.planPath ?? NO_PLAN,
    ITERATION: String(p.iteration),
  };
  // Braced forms first so `{{SPEC_PATH}}` does not leave braces around a bare substitution.
  // Replacer functions keep `$` in paths literal.
  let out = template.replace(/\{\{\s*(SPEC_PATH|PLAN_PATH|ITERATION)\s*\}\}/g, (_m, name: string) => vars[name] ?? '');
  out = out.replace(/\b(SPEC_PATH|PLAN_PATH)\b/g, (_m, name: string) => vars[name] ?? '');
  return out;
}

/** A fence longer than any backtick run in the content, so a file cannot close it early. */
function fenced(content: string): string {
  const longest = Math.max(0, ...(content.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}\n${content.endsWith('\n') ? content : `${content}\n`}${fence}`;
}

export function buildPrompt(p: PromptInput): string {
  const sections: string[] = [];
  if (p.rewrite && p.rewrite.trim() !== '') {
    sections.push(`## Watchdog intervention (read this first)\n\n${p.rewrite.trim()}`);
  }
  const template = p.template && p.template.trim() !== '' ? p.template : null;
  sections.push(template ? substitute(template, p).trim() : defaultBody(p));
  const files = p.contextFiles ?? [];
  if (files.length > 0) {
    sections.push(['## Context files', ...files.map((f) => `### ${f.path}\n\n${fenced(f.content)}`)].join('\n\n'));
  }
  if (p.loopdNotes && p.loopdNotes.length > 0) {
    sections.push(`## loopd undid part of your last iteration\n\n${p.loopdNotes.map((n) => `- ${n}`).join('\n')}`);
  }
  if (p.runnerNotesPath) {
    sections.push(
      `## Verification failed\n\nNotes from the last verification: read ${p.runnerNotesPath}. Fix those failures before starting anything new.`,
    );
  }
  if (p.reviewNotesPath) {
    sections.push(
      `## Review\n\nThe reviewer asked for changes: read ${p.reviewNotesPath}. Address every point before picking a new task.`,
    );
  }
  return `${sections.join('\n\n')}\n`;
}
