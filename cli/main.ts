// loopctl's entry after the launcher: oclif's run, with every error that escapes a command (an
// unknown command, help for one, a plugin's own errors) printed like a command's own errors: one
// line on stderr, or {"error": ...} on stdout with --json.
import { Errors, flush, run, settings, type Config, type Interfaces } from '@oclif/core';
import type { CommandSet } from './command-suggest.js';

/** --json anywhere before a `--`. */
export function wantsJson(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--json') return true;
  }
  return false;
}

/** One readable line from whatever was thrown: oclif's errors carry colour codes and help hints. */
export function errorLine(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const lines = raw
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^See more help with --help$/.test(l));
  const text = lines.join(': ').replace(/\.$/, '');
  return /^Nonexistent flags?:/.test(text) ? `${text} (see --help)` : text;
}

/** The commands and topics a user may type; oclif also lists every command as a topic of its own. */
export function commandSet(config: Pick<Interfaces.Config, 'commands' | 'topics'>): CommandSet {
  const visible = config.commands.filter((c) => !c.hidden);
  const commands = [...new Set([...visible.map((c) => c.id), ...visible.flatMap((c) => c.aliases)])];
  const topics = config.topics
    .filter((t) => !t.hidden && commands.some((id) => id.startsWith(`${t.name}:`)))
    .map((t) => t.name);
  return { commands, topics: [...new Set(topics)] };
}

/**
 * @param from what oclif loads its configuration from: the entry script's URL (oclif reads the
 * package.json above it), or a Config already loaded (cli/bundle.ts).
 */
export async function main(from: string | Config, argv: string[] = process.argv.slice(2)): Promise<void> {
  // loopctl always runs its compiled commands. Under NODE_ENV=test or development (vitest sets the
  // first) oclif would otherwise register tsx in every process and look for TypeScript sources:
  // ~50 ms of CPU per command, and a checkout would run its sources instead of what was built.
  settings.enableAutoTranspile = false;
  try {
    await run(argv, from);
    await flush();
  } catch (err) {
    // Commands print their own errors and throw ExitError with the code (BaseCommand.catch).
    if (err instanceof Errors.ExitError) {
      process.exit(err.oclif.exit ?? 1);
    }
    const message = errorLine(err);
    if (wantsJson(argv)) process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    else {
      const { escapeControls, paletteFor } = await import('./text.js');
      process.stderr.write(`${paletteFor(process.stderr).error('Error:')} ${escapeControls(message)}\n`);
    }
    const code = (err as { exitCode?: unknown; oclif?: { exit?: unknown } }).exitCode ?? (err as { oclif?: { exit?: unknown } }).oclif?.exit;
    process.exit(typeof code === 'number' && code !== 0 ? code : 1);
  }
}
