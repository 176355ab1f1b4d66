import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { writeLedgerExport } from '../export/export.js';

export function register(program: Command): void {
  program
    .command('export')
    .description(
      'Write the log as entries.jsonl, checkpoints.txt and keys.json (docs/ledger.md) for wattproof-verify',
    )
    .requiredOption('--db <file>', 'the ledger database file (ledger.db)')
    .requiredOption('--out <dir>', 'the directory to write into (created if needed)')
    .action((opts: { db: string; out: string }) => {
      try {
        const db = new Database(opts.db, { readonly: true, fileMustExist: true });
        try {
          const n = writeLedgerExport(db, opts.out, {
            onProgress: (k) => process.stderr.write(`exported ${k} entries…\n`),
          });
          process.stdout.write(
            `wrote ${n.entries} entries and ${n.checkpoints} checkpoints to ${opts.out}\n`,
          );
        } finally {
          db.close();
        }
      } catch (err) {
        process.stderr.write(`wattproof-hub export: ${(err as Error).message}\n`);
        process.exitCode = ExitCode.failure;
      }
    });
}
