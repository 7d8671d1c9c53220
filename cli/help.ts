// oclif's help with loopctl's not-found message: `loopctl help inspct` names the nearest command
// instead of "Command inspct not found."
import { Help } from '@oclif/core';
import { UserError } from './base.js';
import { notFoundMessage } from './command-suggest.js';
import { commandSet } from './main.js';

export default class LoopctlHelp extends Help {
  override async showHelp(argv: string[]): Promise<void> {
    const subject = argv.filter((a) => !a.startsWith('-'));
    const kept: string[] = [];
    if (subject.length > 0) {
      const set = commandSet(this.config);
      // Words go deeper while they name a topic; the first that names neither a topic nor a command
      // is the unknown one ("help daemon stauts"). Words after a command are its arguments.
      let id = '';
      for (const word of subject) {
        id = id === '' ? word : `${id}:${word}`;
        kept.push(word);
        if (set.commands.includes(id)) break;
        if (!set.topics.includes(id)) throw new UserError(notFoundMessage(id, set, this.config.bin, 'help '), 127);
      }
    }
    await super.showHelp([...kept, ...argv.filter((a) => a.startsWith('-'))]);
  }
}
