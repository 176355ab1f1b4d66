import type { Command } from 'commander';
import pino from 'pino';
import { ExitCode } from '../exit-codes.js';
import { Mirror, MirrorAlarm } from '../mirror/mirror.js';

export function register(program: Command): void {
  program
    .command('mirror')
    .description('Follow a hub: keep a verified copy of its log and alarm on a fork, rewrite or rollback')
    .requiredOption('--from <url>', "the hub's HTTP API base URL")
    .requiredOption('--dir <dir>', 'where the copy lives (ledger.db)')
    .option('--log-key <vkey>', "pin the log's checkpoint key (C2SP vkey)")
    .option('--interval <ms>', 'poll interval in milliseconds', '5000')
    .option('--once', 'sync once and exit')
    .action(
      async (opts: { from: string; dir: string; logKey?: string; interval: string; once?: boolean }) => {
        const log = pino({ base: { app: 'wattproof-hub-mirror' } });
        const interval = Number(opts.interval);
        if (!Number.isInteger(interval) || interval < 100) {
          process.stderr.write('wattproof-hub mirror: --interval must be an integer ≥ 100 (ms)\n');
          process.exitCode = ExitCode.usage;
          return;
        }
        const mirror = new Mirror({
          from: opts.from,
          dir: opts.dir,
          log,
          ...(opts.logKey ? { logKey: opts.logKey } : {}),
        });
        let stopping = false;
        const stop = () => {
          stopping = true;
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          for (;;) {
            try {
              const r = await mirror.syncOnce();
              if (opts.once) {
                process.stdout.write(`ok: ${r.size} entries, checkpoint ${r.checkpointSize} (+${r.added})\n`);
                break;
              }
            } catch (err) {
              if (err instanceof MirrorAlarm) {
                log.fatal(
                  { event: 'mirror-alarm', kind: err.kind, detail: err.message },
                  `ALARM ${err.kind}`,
                );
                process.stderr.write(`ALARM ${err.kind}: ${err.message}\n`);
                process.exitCode = ExitCode.failure;
                return;
              }
              // The hub may be down or restarting: report and keep following.
              log.warn({ event: 'mirror-sync-failed', err: (err as Error).message });
              if (opts.once) {
                process.stderr.write(`wattproof-hub mirror: ${(err as Error).message}\n`);
                process.exitCode = ExitCode.failure;
                return;
              }
            }
            if (stopping) break;
            await new Promise((r) => setTimeout(r, interval));
            if (stopping) break;
          }
        } finally {
          mirror.close();
        }
      },
    );
}
