import type { Command } from 'commander';
import * as backup from './backup.js';
import * as exportCommand from './export.js';
import * as mirror from './mirror.js';
import * as restore from './restore.js';
import * as start from './start.js';
import * as token from './token.js';
import * as verify from './verify.js';

/**
 * The hub's commands. Add one by writing `hub/commands/<name>.ts` that exports
 * `register(program)` and listing it here.
 */
export const commands: Array<(program: Command) => void> = [
  start.register,
  token.register,
  verify.register,
  exportCommand.register,
  mirror.register,
  backup.register,
  restore.register,
];
