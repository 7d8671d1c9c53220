#!/usr/bin/env node
// Source files over a line budget and functions over a line budget, from the TypeScript compiler's
// own parse (tests, dashboard build output and declarations excluded). Usage:
//   node scripts/sizes.mjs [--file-max 400] [--fn-max 80]
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const FILE_MAX = arg('--file-max', 400);
const FN_MAX = arg('--fn-max', 80);
const root = new URL('..', import.meta.url).pathname;
const TOPS = ['cli', 'core', 'functions', 'host', 'router', 'triggers', 'dashboard/src'];

const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );

const bigFiles = [];
const bigFns = [];
let files = 0;
let fns = 0;
for (const top of TOPS) {
  let list = [];
  try {
    list = walk(join(root, top));
  } catch {
    continue;
  }
  for (const path of list) {
    files++;
    const text = readFileSync(path, 'utf8');
    const rel = relative(root, path);
    const lines = text.split('\n').length;
    if (lines > FILE_MAX) bigFiles.push([rel, lines]);
    const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && node.body) {
        fns++;
        const a = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const b = sf.getLineAndCharacterOfPosition(node.end).line;
        const n = b - a + 1;
        if (n > FN_MAX) {
          const name = node.name?.getText(sf) ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText(sf) : '(anonymous)');
          bigFns.push([`${rel}:${a + 1} ${name}`, n]);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
}
const show = (rows) => rows.sort((x, y) => y[1] - x[1]).map(([k, n]) => `  ${String(n).padStart(5)}  ${k}`).join('\n');
console.log(`${files} source files, ${bigFiles.length} over ${FILE_MAX} lines:\n${show(bigFiles)}`);
console.log(`${fns} functions, ${bigFns.length} over ${FN_MAX} lines:\n${show(bigFns)}`);
