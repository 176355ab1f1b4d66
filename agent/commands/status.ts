import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';

export function register(program: Command): void {
  program
    .command('status')
    .description('Show gateway id, devices, outbox, receipts, broker and clock')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('wattproof-agent status: not available in this build yet\n');
      process.exitCode = ExitCode.failure;
    });
}
