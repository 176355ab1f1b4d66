import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';

export function register(program: Command): void {
  program
    .command('scan')
    .description('Find Modbus devices on a serial bus or a TCP gateway')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('wattproof-agent scan: not available in this build yet\n');
      process.exitCode = ExitCode.failure;
    });
}
