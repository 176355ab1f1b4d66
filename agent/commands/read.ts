import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';

export function register(program: Command): void {
  program
    .command('read')
    .description('Read and decode every point of one device')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('wattproof-agent read: not available in this build yet\n');
      process.exitCode = ExitCode.failure;
    });
}
