import path from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { ConfigError, loadHubConfig } from '../config.js';
import { EnrollTokens } from '../enrolment/tokens.js';
import { ExitCode } from '../exit-codes.js';
import { LEDGER_FILE } from '../hub.js';
import { prepareDatabase } from '../ledger/schema.js';

function parseTtl(s: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(s);
  if (!m) throw new RangeError(`--ttl "${s}": use a number with s, m, h or d (e.g. 15m)`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

export function register(program: Command): void {
  const token = program.command('token').description('Enrolment tokens (operator)');
  token
    .command('create')
    .description('Create a one-time enrolment token bound to a site (printed once; only its hash is stored)')
    .requiredOption('--site <site>', 'the site the gateway belongs to')
    .option('--participant <id>', 'the participant (pt-…) the gateway meters')
    .option('--ttl <duration>', 'lifetime, e.g. 15m, 2h, 1d', '15m')
    .option('-c, --config <file>', 'the hub config (its dataDir holds the ledger)')
    .option('--db <file>', 'the ledger database, instead of --config')
    .option('--json', 'print {token, site, expiresAt} as JSON')
    .action(
      (opts: {
        site: string;
        participant?: string;
        ttl: string;
        config?: string;
        db?: string;
        json?: boolean;
      }) => {
        try {
          const file =
            opts.db ?? (opts.config ? path.join(loadHubConfig(opts.config).dataDir, LEDGER_FILE) : undefined);
          if (!file) throw new ConfigError('give --config FILE or --db FILE');
          const db = new Database(file, { fileMustExist: true });
          try {
            prepareDatabase(db);
            const created = new EnrollTokens(db).create({
              site: opts.site,
              participant: opts.participant ?? null,
              ttlMs: parseTtl(opts.ttl),
            });
            if (opts.json) process.stdout.write(`${JSON.stringify(created)}\n`);
            else
              process.stdout.write(
                `${created.token}\n(site ${created.site}; single use; expires ${new Date(created.expiresAt).toISOString()})\n`,
              );
          } finally {
            db.close();
          }
        } catch (err) {
          process.stderr.write(`wattproof-hub token create: ${(err as Error).message}\n`);
          process.exitCode = err instanceof ConfigError ? ExitCode.config : ExitCode.failure;
        }
      },
    );
}
