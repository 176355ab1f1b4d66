import type { Command } from 'commander';
import { runCommand } from './common.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('Check configuration, key, disk, clock, devices and broker, and say what to fix')
    .option('-c, --config <file>', 'agent config file (default /etc/wattproof/agent.yaml)')
    .option('--json', 'print the checks as JSON')
    .option('--skip-devices', 'do not talk to the devices')
    .action((opts: { config?: string; json?: boolean; skipDevices?: boolean }) =>
      runCommand('doctor', async () => (await import('../doctor.js')).doctor(opts)),
    );
}
