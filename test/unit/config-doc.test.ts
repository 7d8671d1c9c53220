import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS } from '../../core/config.js';
import { renderConfigReference } from '../../core/config-doc.js';

describe('docs/config.md', () => {
  it('is the reference rendered from the config keys (run `npm run docs` when this fails)', () => {
    const committed = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'config.md'), 'utf8');
    expect(committed).toBe(renderConfigReference());
  });

  it('documents every key once, with its default', () => {
    const text = renderConfigReference();
    for (const spec of CONFIG_KEYS) {
      expect(text.split(`| \`${spec.name}\` |`).length - 1).toBe(1);
    }
    expect(text).toContain('| `iterations` | integer >= 1 | `50` |');
    expect(text).toContain('| `verify_cmds` | list, separated by `\\|` | (empty) |');
  });
});
