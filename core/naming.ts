// Names for runs, branches and worktree paths, derived deterministically from specs.
import { basename, join } from 'node:path';

const MAX_SLUG = 60;

// Letters NFKD does not decompose into a base letter plus accents.
const LIGATURES: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', đ: 'd', ł: 'l', þ: 'th', ð: 'd' };

export function slugify(text: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[ßæœøđłþð]/g, (c) => LIGATURES[c] ?? c)
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_SLUG)
    .replace(/-+$/, '');
  return slug === '' ? 'run' : slug;
}

function specName(specPath: string): string {
  return basename(specPath).replace(/\.md$/i, '');
}

export function specSlug(specPath: string): string {
  return slugify(specName(specPath));
}

/** One safe path component: keeps case, dots, dashes and underscores; everything else becomes `-`. */
export function sanitizeBranchForPath(branch: string): string {
  const safe = branch.replace(/[^A-Za-z0-9._-]/g, '-');
  // `.` and `..` would escape the intended directory.
  return /^\.*$/.test(safe) ? safe.replace(/\./g, '-') || '-' : safe;
}

/** base, base-2, base-3, ... : the first candidate `taken` rejects. */
export function dedupeName(base: string, taken: (candidate: string) => boolean): string {
  if (!taken(base)) return base;
  for (let n = 2; n < 100_000; n++) {
    const candidate = `${base}-${n}`;
    if (!taken(candidate)) return candidate;
  }
  throw new Error(`no free name left for "${base}" (tried ${base}-2 to ${base}-99999)`);
}

const FILTERS: Record<string, (v: string) => string> = {
  sanitize: sanitizeBranchForPath,
  slug: slugify,
};

/** `{{ var }}` and `{{ var | filter | filter }}`; anything unknown throws rather than leaving a literal. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  const knownVars = () => Object.keys(vars).sort().join(', ') || '(none)';
  const knownFilters = Object.keys(FILTERS).join(', ');
  if (template.replace(/\{\{[\s\S]*?\}\}/g, '').includes('{{')) {
    throw new Error(`unclosed "{{" in template "${template}"`);
  }
  return template.replace(/\{\{([\s\S]*?)\}\}/g, (_whole, expr: string) => {
    const [head = '', ...filters] = expr.split('|').map((p) => p.trim());
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(head)) {
      throw new Error(`invalid template expression "{{${expr}}}" in "${template}": expected {{ name }} or {{ name | filter }}`);
    }
    if (!Object.hasOwn(vars, head)) {
      throw new Error(`unknown template variable "${head}" in "${template}"; known variables: ${knownVars()}`);
    }
    let value = vars[head] ?? '';
    for (const f of filters) {
      const fn = Object.hasOwn(FILTERS, f) ? FILTERS[f] : undefined;
      if (!fn) throw new Error(`unknown template filter "${f}" in "${template}"; known filters: ${knownFilters}`);
      value = fn(value);
    }
    return value;
  });
}

/** `<plansDir>/<specName>-plan.md`, keeping the spec's own spelling so the pair is easy to spot. */
export function defaultPlanPath(specPath: string, plansDir: string): string {
  return join(plansDir, `${specName(specPath)}-plan.md`);
}
