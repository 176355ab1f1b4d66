import type { Command } from 'commander';
import pino from 'pino';
import { ConfigError, loadHubConfig } from '../config.js';
import { ExitCode } from '../exit-codes.js';
import { Hub, hubOptionsFromConfig } from '../hub.js';
import { HubKeyError } from '../keys.js';
import { DASHBOARD_LOG_REDACT } from '../web/plugin.js';

export function register(program: Command): void {
  program
    .command('start')
    .description('Run the hub: broker (embedded unless the config names one), ingest, ledger and HTTP API')
    .requiredOption('-c, --config <file>', 'the hub config (YAML; see docs/hub-cli.md)')
    .action(async (opts: { config: string }) => {
      let config: ReturnType<typeof loadHubConfig>;
      try {
        config = loadHubConfig(opts.config);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`wattproof-hub: ${err.message}\n`);
          process.exitCode = ExitCode.config;
          return;
        }
        throw err;
      }
      const log = pino({
        level: config.log.level,
        base: { app: 'wattproof-hub' },
        redact: DASHBOARD_LOG_REDACT,
      });
      let hub: Hub;
      try {
        hub = await Hub.start(hubOptionsFromConfig(config, log));
      } catch (err) {
        process.stderr.write(`wattproof-hub: ${(err as Error).message}\n`);
        process.exitCode =
          err instanceof HubKeyError
            ? ExitCode.identity
            : err instanceof ConfigError
              ? ExitCode.config
              : ExitCode.failure;
        return;
      }
      process.stderr.write(`wattproof-hub ${hub.key.hubId}: http ${hub.httpUrl}, broker ${hub.brokerUrl}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await hub.stop();
    });
}
