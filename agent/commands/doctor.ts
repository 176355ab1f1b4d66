import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('Check configuration, devices, clock, broker and disk, and say what to fix')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('wattproof-agent doctor: not available in this build yet\n');
      process.exitCode = ExitCode.failure;
    });
}
