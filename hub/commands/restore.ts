import type { Command } from 'commander';
import { restoreLedger } from '../backup/online-backup.js';
import { ExitCode } from '../exit-codes.js';
import { HubKeyError } from '../keys.js';
import { describeTreeHead } from './backup.js';

export function register(program: Command): void {
  program
    .command('restore')
    .description(
      "Put a backup in place as DATADIR/ledger.db: refused while a process (the hub) holds the ledger open, when the data folder's hub.key is not the backup's log key, or when verify fails on it",
    )
    .requiredOption('--from <file>', 'the backup file (made by wattproof-hub backup)')
    .requiredOption('--data <dir>', "the hub's dataDir (must hold the log's hub.key)")
    .option('--replace', 'replace an existing ledger.db (it is kept as ledger.db.replaced-<time>)')
    .option('--log-key <vkey>', "pin the log's checkpoint key (C2SP vkey) for the check")
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: { from: string; data: string; replace?: boolean; logKey?: string; json?: boolean }) => {
        try {
          const r = await restoreLedger(opts.from, opts.data, {
            ...(opts.replace ? { replace: true } : {}),
            ...(opts.logKey ? { logKey: opts.logKey } : {}),
          });
          if (opts.json) {
            const { verify, ...rest } = r;
            process.stdout.write(`${JSON.stringify({ ...rest, verified: verify.ok }, null, 2)}\n`);
            return;
          }
          process.stdout.write(
            `restored ${r.entries} entries to ${r.file} (verify: ok, ${r.verify.checkpoints} checkpoints)\n` +
              (r.replacedKeptAs ? `the ledger it replaced is kept as ${r.replacedKeptAs}\n` : '') +
              describeTreeHead(r) +
              r.warnings.map((w) => `warning: ${w}\n`).join(''),
          );
        } catch (err) {
          process.stderr.write(`wattproof-hub restore: ${(err as Error).message}\n`);
          process.exitCode = err instanceof HubKeyError ? ExitCode.identity : ExitCode.failure;
        }
      },
    );
}
