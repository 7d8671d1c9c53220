// oclif's command_not_found hook: a one-line error with the nearest command. Not
// @oclif/plugin-not-found: it asks "Did you mean ...?" on a terminal (a 10 s prompt that a script or
// --json caller cannot answer), prints over two lines, and ranks "lsit" as near "init" as "list".
import type { Hook } from '@oclif/core';
import { UserError } from '../base.js';
import { commandSet } from '../main.js';
import { notFoundMessage } from '../command-suggest.js';

const hook: Hook<'command_not_found'> = async function (opts) {
  throw new UserError(notFoundMessage(opts.id, commandSet(opts.config), opts.config.bin), 127);
};

export default hook;
