// What `loopctl <typo>` says. oclif joins every word before the first flag into one command id
// ("inspct x" -> "inspct:x"), so the unknown command is the first word that is not a topic, and the
// words after it are its arguments, not part of its name.
import { editDistance } from '../core/config.js';

export interface CommandSet {
  /** Visible command ids, oclif style: "list", "daemon:status". */
  commands: string[];
  /** Topic ids: "daemon". */
  topics: string[];
}

/** The words the user typed as a command, without the arguments oclif folded into the id. */
export function typedCommand(id: string, set: CommandSet): string[] {
  const words = id.split(':').filter((w) => w !== '');
  const out: string[] = [];
  for (const w of words) {
    out.push(w);
    if (!set.topics.includes(out.join(':'))) break;
  }
  return out;
}

/** The nearest command (spaces, as typed) when the typo is a plausible slip, else null. */
export function suggestCommand(typed: string[], set: CommandSet): string | null {
  const text = typed.join(' ');
  let best: string | null = null;
  let bestDist = Infinity;
  const candidates = [...new Set([...set.commands, ...set.topics])];
  for (const id of candidates) {
    const candidate = id.split(':').join(' ');
    const dist = editDistance(text, candidate);
    if (dist < bestDist) {
      best = candidate;
      bestDist = dist;
    }
  }
  // A prefix of a real command ("insp") is as good a hint as a typo.
  const prefixed = candidates.map((id) => id.split(':').join(' ')).filter((c) => c.startsWith(text));
  if (prefixed.length === 1) return prefixed[0] ?? null;
  const allowed = text.length <= 4 ? 1 : text.length <= 10 ? 2 : 3;
  return bestDist <= allowed ? best : null;
}

/** One line: what was not found, the nearest command if any, and where the list is. */
export function notFoundMessage(id: string, set: CommandSet, bin = 'loopctl', prefix = ''): string {
  // A flag before any command ("loopctl --json", "loopctl -x list"): oclif takes it as the id.
  if (id.startsWith('-')) {
    const flag = id.split(':')[0] ?? id;
    return `"${flag}" is not a command, and only --help and --version come before one ("${bin} help" lists the commands)`;
  }
  const typed = typedCommand(id, set);
  const topic = typed.length > 1 ? typed.slice(0, -1).join(' ') : null;
  const near = suggestCommand(typed, set);
  const what = `"${typed.join(' ')}" is not a ${bin} command`;
  const hint = topic ? `"${bin} help ${topic}" lists the ${topic} commands` : `"${bin} help" lists the commands`;
  return near ? `${what}; did you mean "${bin} ${prefix}${near}"? (${hint})` : `${what} (${hint})`;
}
