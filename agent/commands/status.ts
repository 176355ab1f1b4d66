import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { loadIdentity } from '../identity.js';
import { formatStatus, statusReport } from '../status-report.js';
import { runCommand, stateDirFrom } from './common.js';

export function register(program: Command): void {
  program
    .command('status')
    .description('Show gateway id, devices and their health, outbox, last receipt, broker and clock')
    .option('-c, --config <file>', 'agent config file (default /etc/wattproof/agent.yaml)')
    .option('--state-dir <dir>', 'state directory (overrides gateway.stateDir of the config)')
    .option('--json', 'print the status object as JSON')
    .action((opts: { config?: string; stateDir?: string; json?: boolean }) =>
      runCommand('status', () => {
        const stateDir = stateDirFrom(opts);
        const id = loadIdentity(stateDir);
        const report = statusReport(stateDir, id.gatewayId);
        process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
        return ExitCode.ok;
      }),
    );
}
