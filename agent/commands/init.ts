import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';

export function register(program: Command): void {
  program
    .command('init')
    .description('Create the state directory and this gateway’s key')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('wattproof-agent init: not available in this build yet\n');
      process.exitCode = ExitCode.failure;
    });
}
