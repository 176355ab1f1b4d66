import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { verifyLedgerFile } from '../verify/verify-ledger.js';

export function register(program: Command): void {
  program
    .command('verify')
    .description(
      'Check a ledger database: every leaf, the tree, every checkpoint, every signature and gateway chain; name the first entry that does not hold',
    )
    .argument('<ledger>', 'the ledger database file (ledger.db)')
    .option(
      '--log-key <vkey>',
      "pin the log's checkpoint key (C2SP vkey) instead of the one the file records",
    )
    .option('--json', 'print the report as JSON')
    .action((file: string, opts: { logKey?: string; json?: boolean }) => {
      let report: ReturnType<typeof verifyLedgerFile>;
      try {
        report = verifyLedgerFile(file, opts.logKey ? { logKey: opts.logKey } : {});
      } catch (err) {
        process.stderr.write(`wattproof-hub verify: ${(err as Error).message}\n`);
        process.exitCode = ExitCode.failure;
        return;
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else if (report.ok) {
        process.stdout.write(
          `ok: ${report.entries} entries, ${report.checkpoints} checkpoints, ${report.gateways} gateways; root ${report.root}\n`,
        );
        for (const w of report.warnings) process.stdout.write(`warning: ${w}\n`);
      } else {
        const f = report.failure;
        const where =
          f?.where === 'entry' && f.index !== undefined ? `entry ${f.index}` : (f?.where ?? 'ledger');
        process.stdout.write(`FAILED at ${where}: ${f?.reason}: ${f?.detail}\n`);
      }
      process.exitCode = report.ok ? ExitCode.ok : ExitCode.failure;
    });
}
