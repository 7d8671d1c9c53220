// `loopctl help [COMMAND]`: @oclif/plugin-help's command, taken in as one of loopctl's own instead
// of loading the plugin. As a plugin its module imports @oclif/core from node_modules, a second copy
// beside the one in dist/bundle/loopctl.js (~75 more files, ~60 ms of CPU on every `loopctl help`);
// as one of ours it is bundled with the rest (cli/bundle.ts) and its output is the same.
import type { Command } from '@oclif/core';
import { commands } from '@oclif/plugin-help';

const HelpCommand: typeof Command = commands.help;
export default HelpCommand;
