import path from 'node:path';
import type { Command } from 'commander';
import { type BackupProgress, backupLedger, type LedgerSummary } from '../backup/online-backup.js';
import { ExitCode } from '../exit-codes.js';
import { LEDGER_FILE } from '../hub.js';

/** The tree head lines both backup and restore print. */
export function describeTreeHead(s: LedgerSummary): string {
  if (!s.checkpoint) return `tree head: none (no checkpoint yet; ${s.entries} entries)\n`;
  const newer = s.entries - s.checkpoint.size;
  return (
    `tree head: size ${s.checkpoint.size} root ${s.checkpoint.root}\n` +
    (newer > 0
      ? `${newer} entries are newer than the tree head (a hub running on this file signs them in its next checkpoint)\n`
      : '') +
    (s.logVerifierKey ? `log key: ${s.logVerifierKey}\n` : '')
  );
}

/** Progress on stderr: every 10 % and at least every 2 s, so a large ledger shows it is moving. */
function progressPrinter(): (p: BackupProgress) => void {
  let lastTenth = -1;
  let lastAt = Date.now();
  return (p) => {
    if (p.totalPages === 0) return;
    const done = p.totalPages - p.remainingPages;
    const tenth = Math.floor((done * 10) / p.totalPages);
    const now = Date.now();
    if (tenth === lastTenth && now - lastAt < 2000) return;
    lastTenth = tenth;
    lastAt = now;
    process.stderr.write(
      `backup: ${Math.floor((done * 100) / p.totalPages)}% (${done}/${p.totalPages} pages)\n`,
    );
  };
}

export function register(program: Command): void {
  program
    .command('backup')
    .description(
      'Copy the ledger while the hub runs (SQLite online backup of one consistent snapshot) to a new file, mode 0600; prints the entries and the tree head',
    )
    .requiredOption('--data <dir>', "the hub's dataDir (holds ledger.db)")
    .requiredOption('--to <file>', 'the backup file to create (never overwritten)')
    .option('--pages-per-step <n>', 'database pages copied per step (4 KiB each)', '1024')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { data: string; to: string; pagesPerStep: string; json?: boolean }) => {
      const pagesPerStep = Number(opts.pagesPerStep);
      if (!Number.isInteger(pagesPerStep) || pagesPerStep < 1) {
        process.stderr.write('wattproof-hub backup: --pages-per-step must be an integer ≥ 1\n');
        process.exitCode = ExitCode.usage;
        return;
      }
      try {
        const r = await backupLedger(path.join(opts.data, LEDGER_FILE), opts.to, {
          pagesPerStep,
          onProgress: progressPrinter(),
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `backed up ${r.entries} entries to ${r.file} (${r.bytes} bytes, ${r.pages} pages, ${r.steps} steps, ${r.ms} ms)\n${describeTreeHead(r)}`,
        );
      } catch (err) {
        process.stderr.write(`wattproof-hub backup: ${(err as Error).message}\n`);
        process.exitCode = ExitCode.failure;
      }
    });
}
