import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';

export function register(program: Command): void {
  program
    .command('keys')
    .description('Show this gateway’s public identity')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('wattproof-agent keys: not available in this build yet\n');
      process.exitCode = ExitCode.failure;
    });
}
