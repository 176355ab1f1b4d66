import type { Command } from 'commander';
import * as doctor from './doctor.js';
import * as enroll from './enroll.js';
import * as init from './init.js';
import * as keys from './keys.js';
import * as read from './read.js';
import * as run from './run.js';
import * as scan from './scan.js';
import * as status from './status.js';
import * as update from './update.js';

/**
 * The agent's commands, one file each, in the order `--help` lists them. Add a command by
 * writing `agent/commands/<name>.ts` that exports `register(program)` and listing it here.
 */
export const commands: Array<(program: Command) => void> = [
  init.register,
  scan.register,
  read.register,
  enroll.register,
  run.register,
  status.register,
  doctor.register,
  keys.register,
  update.register,
];
