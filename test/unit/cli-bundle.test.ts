// cli/bundle.ts, the entry of dist/bundle/loopctl.js: oclif takes the commands, the help class and
// the command_not_found hook from its exports, so they must match what the manifest (built from
// cli/commands by the pattern strategy in package.json) lists, command for command.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, LoopctlHelp, bundledPjson, commandNotFound } from '../../cli/bundle.js';
import Help from '../../cli/help.js';
import hook from '../../cli/hooks/command-not-found.js';

const root = join(import.meta.dirname, '..', '..');
const commandsDir = join(root, 'cli', 'commands');

function commandFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? commandFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('the loopctl bundle entry', () => {
  it('exports every command of cli/commands under its oclif id, the same class as the file', async () => {
    const files = commandFiles(commandsDir);
    const ids = files.map((f) => relative(commandsDir, f).replace(/\.ts$/, '').split('/').join(':'));
    expect(Object.keys(COMMANDS).sort()).toEqual(ids.sort());
    for (const [i, file] of files.entries()) {
      const mod = (await import(file)) as { default: unknown };
      expect(COMMANDS[ids[i] as keyof typeof COMMANDS], ids[i]).toBe(mod.default);
    }
  });

  it('lists the same commands as the oclif manifest', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
    expect(Object.keys(COMMANDS).sort()).toEqual(Object.keys(manifest.commands).sort());
  });

  it('exports the help class and the hook that package.json names', () => {
    expect(LoopctlHelp).toBe(Help);
    expect(commandNotFound).toBe(hook);
  });

  it('points oclif at the bundle for commands, help and the hook, and keeps the rest of package.json', () => {
    const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Parameters<typeof bundledPjson>[0];
    const out = bundledPjson(pjson, 'dist/bundle/loopctl.js');
    const target = './dist/bundle/loopctl.js';
    expect(out.oclif.commands).toEqual({ strategy: 'explicit', target, identifier: 'COMMANDS' });
    expect(out.oclif.helpClass).toEqual({ target, identifier: 'LoopctlHelp' });
    expect(out.oclif.hooks).toEqual({ command_not_found: { target, identifier: 'commandNotFound' } });
    // Only the hook that package.json has: a new hook there must be added to the bundle too.
    expect(Object.keys(pjson.oclif.hooks ?? {})).toEqual(['command_not_found']);
    const { commands: _c, helpClass: _h, hooks: _k, ...rest } = out.oclif;
    const { commands: _c2, helpClass: _h2, hooks: _k2, ...restIn } = pjson.oclif;
    expect(rest).toEqual(restIn);
    expect(out.name).toBe(pjson.name);
    expect(out.version).toBe(pjson.version);
    // The input is left as it was: the in-process tests load package.json's own strategy.
    expect(pjson.oclif.commands).toBe('./dist/cli/commands');
  });
});
