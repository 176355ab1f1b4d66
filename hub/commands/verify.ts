import type { Command } from 'commander';
import { b64url } from '../../protocol/index.js';
import { ExitCode } from '../exit-codes.js';
import { verifyLedgerFile } from '../verify/verify-ledger.js';

export function register(program: Command): void {
  program
    .command('verify')
    .description(
      'Check a ledger database: every leaf, the tree, every checkpoint, every signature and gateway chain, and the state folded again (every hub and validator entry must follow from the log); name the first entry that does not hold',
    )
    .argument('<ledger>', 'the ledger database file (ledger.db)')
    .option(
      '--log-key <vkey>',
      "pin the log's checkpoint key (C2SP vkey) instead of the one the file records",
    )
    .option(
      '--validator-key <base64url>',
      "a validator's public key to check its decisions with (repeatable; default: the hub's validator.key beside the ledger)",
      (v: string, all: string[] = []) => [...all, v],
    )
    .option('--json', 'print the report as JSON')
    .action((file: string, opts: { logKey?: string; validatorKey?: string[]; json?: boolean }) => {
      let report: ReturnType<typeof verifyLedgerFile>;
      try {
        report = verifyLedgerFile(file, {
          ...(opts.logKey ? { logKey: opts.logKey } : {}),
          ...(opts.validatorKey ? { validatorKeys: opts.validatorKey.map((k) => b64url.decode(k)) } : {}),
        });
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
        if (report.state) {
          const st = report.state;
          process.stdout.write(
            `state: ${st.participants} participants, ${st.contracts} contracts (${st.settled} settled); state hash ${st.hash}\n`,
          );
        }
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
