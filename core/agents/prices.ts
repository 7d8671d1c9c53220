// Cost from token counts, for agents that report tokens but not cost (Codex, say). Prices are
// USD per million tokens, a snapshot of the vendors' list prices shipped with loopd; the
// model_prices config key overrides or adds entries ("name=input/cached_input/output, ...").
//
// No Node imports: the dashboard bundles this for the browser.

export interface ModelPrice {
  input: number;
  cachedInput: number;
  output: number;
}

export const p = (input: number, cachedInput: number, output: number): ModelPrice => ({ input, cachedInput, output });

/** Keys are model names or name prefixes; the longest matching prefix wins. */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
  // OpenAI (Codex)
  'gpt-5': p(1.25, 0.125, 10),
  'gpt-5-codex': p(1.25, 0.125, 10),
  'gpt-5.1': p(1.25, 0.125, 10),
  'gpt-5.1-codex': p(1.25, 0.125, 10),
  'gpt-5.1-codex-max': p(1.25, 0.125, 10),
  'gpt-5.1-codex-mini': p(0.25, 0.025, 2),
  'gpt-5-mini': p(0.25, 0.025, 2),
  'gpt-5-nano': p(0.05, 0.005, 0.4),
  'gpt-5.2': p(1.75, 0.175, 14),
  'gpt-5.2-codex': p(1.75, 0.175, 14),
  'gpt-4.1': p(2, 0.5, 8),
  'gpt-4.1-mini': p(0.4, 0.1, 1.6),
  o3: p(2, 0.5, 8),
  'o4-mini': p(1.1, 0.275, 4.4),
  // Anthropic (Claude Code reports its own cost; these serve wrappers that only report tokens)
  'claude-opus-4-5': p(5, 0.5, 25),
  'claude-opus-4-1': p(15, 1.5, 75),
  'claude-opus-4': p(15, 1.5, 75),
  'claude-sonnet-4-5': p(3, 0.3, 15),
  'claude-sonnet-4': p(3, 0.3, 15),
  'claude-haiku-4-5': p(1, 0.1, 5),
};
// What an agent uses when `model` is empty is its kind record's defaultPrice (core/agents/kinds/),
// priced as `default:<kind>`; model_prices may set that key too.

export class PriceTableError extends Error {
  override name = 'PriceTableError';
}

/** Parses model_prices: "gpt-5.5=5/0.5/40, my-model=1/0.1/4" (input/cached input/output per 1M tokens). */
export function parsePriceOverrides(text: string): Record<string, ModelPrice> {
  const out: Record<string, ModelPrice> = {};
  for (const part of text.split(/[,;|]/)) {
    const entry = part.trim();
    if (entry === '') continue;
    const m = /^([^=\s]+)\s*=\s*([0-9.]+)\s*\/\s*([0-9.]+)\s*\/\s*([0-9.]+)$/.exec(entry);
    const nums = m ? [Number(m[2]), Number(m[3]), Number(m[4])] : [];
    if (!m || nums.some((n) => !Number.isFinite(n) || n < 0)) {
      throw new PriceTableError(
        `invalid model_prices entry "${entry}": expected MODEL=INPUT/CACHED_INPUT/OUTPUT in USD per million tokens, e.g. gpt-5=1.25/0.125/10`,
      );
    }
    out[m[1]!] = p(nums[0]!, nums[1]!, nums[2]!);
  }
  return out;
}

/**
 * The price for a model: exact name, else the longest known prefix; for an empty model, the
 * agent's default (`default:<agent>` in the overrides, else `agentDefault`, its kind record's).
 */
export function priceFor(
  model: string,
  agent: string,
  overrides: Record<string, ModelPrice> = {},
  agentDefault: ModelPrice | null = null,
): { key: string; price: ModelPrice } | null {
  const table: Record<string, ModelPrice> = { ...DEFAULT_PRICES, ...overrides };
  const name = model.trim();
  if (name !== '') {
    if (table[name]) return { key: name, price: table[name] };
    let best: string | null = null;
    for (const key of Object.keys(table)) {
      if (key.startsWith('default:')) continue;
      if (name.startsWith(key) && (best === null || key.length > best.length)) best = key;
    }
    if (best !== null) return { key: best, price: table[best]! };
    return null;
  }
  const def = `default:${agent}`;
  const price = table[def] ?? agentDefault;
  return price ? { key: def, price } : null;
}

export interface TokenCounts {
  /** All prompt tokens, cached ones included. */
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
}

export function costFromTokens(t: TokenCounts, price: ModelPrice): number {
  const cached = Math.min(t.cachedInputTokens, t.inputTokens);
  const usd = ((t.inputTokens - cached) * price.input + cached * price.cachedInput + t.outputTokens * price.output) / 1_000_000;
  return Math.round(usd * 1e6) / 1e6;
}
