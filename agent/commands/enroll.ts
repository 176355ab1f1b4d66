import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';

export function register(program: Command): void {
  program
    .command('enroll')
    .description('Enrol this gateway with a hub using a one-time token')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('wattproof-agent enroll: not available in this build yet\n');
      process.exitCode = ExitCode.failure;
    });
}
