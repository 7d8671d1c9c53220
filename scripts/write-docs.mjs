// Regenerates the documents that are derived from code (docs/config.md). Run after `npm run build`.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from '../dist/core/config-doc.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(join(root, 'docs', 'config.md'), renderConfigReference());
console.log('wrote docs/config.md');
