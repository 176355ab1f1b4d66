import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';

export function register(program: Command): void {
  program
    .command('run')
    .description('Run the agent service in the foreground')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('wattproof-agent run: not available in this build yet\n');
      process.exitCode = ExitCode.failure;
    });
}
