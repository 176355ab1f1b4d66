#!/usr/bin/env node
// `npm start`: a simulated neighbourhood on this machine. Parses the command line, starts the
// neighbourhood (demo/neighbourhood.ts), prints where everything is, and stops it all cleanly on
// Ctrl-C (SIGINT) or SIGTERM.
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { packageVersion } from '../agent/version.js';
import {
  type DemoOptions,
  MAX_HOMES,
  Neighbourhood,
  packageRoot,
  SETTLEMENT_MINUTES,
} from './neighbourhood.js';
import { StatusLine } from './status.js';

function intIn(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a whole number ${min}..${max}`);
    return n;
  };
}

function speedArg(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 1 || n > 3600)
    throw new InvalidArgumentError('--speed must be a number 1..3600');
  return n;
}

function intervalArg(v: string): number {
  const n = Number(v);
  if (!(SETTLEMENT_MINUTES as readonly number[]).includes(n))
    throw new InvalidArgumentError(`--interval must be one of ${SETTLEMENT_MINUTES.join(', ')} (minutes)`);
  return n;
}

export function demoCommand(run: (o: DemoOptions) => Promise<number>): Command {
  const program = new Command('wattproof-demo')
    .description(
      'Runs a simulated neighbourhood: the hub (embedded broker, SQLite ledger, API, contracts engine, validator, auctions, dashboard), simulated homes on Modbus TCP and a real agent per home, and the households trading, in accelerated time. Ctrl-C stops it; running it again continues the same ledger.',
    )
    .version(packageVersion())
    .addOption(
      new Option('--homes <n>', 'number of homes').argParser(intIn('--homes', 1, MAX_HOMES)).default(8),
    )
    .addOption(
      new Option('--speed <x>', 'simulated time runs x times faster than real time')
        .argParser(speedArg)
        .default(15),
    )
    .addOption(
      new Option('--interval <minutes>', 'settlement interval of a new neighbourhood (default 15)').argParser(
        intervalArg,
      ),
    )
    .option(
      '--data <dir>',
      'data folder (created; kept between runs)',
      path.join(packageRoot(), '.wattproof-demo'),
    )
    .option('--fresh', 'delete the data folder first and start a new neighbourhood', false)
    .addOption(
      new Option('--port <n>', 'HTTP port of the hub API (0: a free one)')
        .argParser(intIn('--port', 0, 65535))
        .default(0),
    )
    .addOption(
      new Option(
        '--status-every <seconds>',
        'plain status lines when stdout is not a terminal, every so many seconds',
      )
        .argParser(intIn('--status-every', 1, 3600))
        .default(5),
    )
    .action(
      async (opts: {
        homes: number;
        speed: number;
        interval?: number;
        data: string;
        fresh: boolean;
        port: number;
        statusEvery: number;
      }) => {
        process.exitCode = await run({
          homes: opts.homes,
          speed: opts.speed,
          dataDir: path.resolve(opts.data),
          fresh: opts.fresh,
          ...(opts.interval !== undefined ? { settlementMinutes: opts.interval } : {}),
          httpPort: opts.port,
          statusEveryMs: opts.statusEvery * 1000,
        });
      },
    );
  return program;
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const out = new StatusLine(process.stdout, o.statusEveryMs);
  out.print(`Wattproof demo: starting a neighbourhood of ${o.homes} simulated homes in ${o.dataDir} …`);
  let n: Neighbourhood;
  try {
    n = await Neighbourhood.start(o, out);
  } catch (err) {
    process.stderr.write(`demo: could not start: ${(err as Error).message}\n`);
    return 1;
  }
  const cli = `node ${path.relative(process.cwd(), path.join(packageRoot(), 'dist/hub/cli.js')) || 'dist/hub/cli.js'}`;
  const periodS = (n.periodMs / o.speed / 1000).toFixed(1);
  const batteries = n.homes.filter((h) => h.hasBattery).length;
  const heat = n.homes.find((h) => h.hasHeatMeter);
  const lines = [
    `  data folder  ${o.dataDir} (ledger ${n.ledgerFile}; log demo.log; ${n.hub.ledger.size} entries so far)`,
    `  hub API      ${n.hub.httpUrl}  (e.g. ${n.hub.httpUrl}/v1/stats, /v1/checkpoint, /v1/keys)`,
    `  operator     bearer token in ${n.operatorTokenFile}`,
    `  MQTT broker  ${n.hub.brokerUrl} (embedded)`,
    `  dashboard    ${n.hub.httpUrl}/ui/  login ${n.login.user} / ${n.login.password}  (kept in ${n.login.file}; metrics ${n.hub.httpUrl}/metrics)`,
    `  validator    ${n.validator.line}`,
    `  time         simulated ${new Date(n.clock.now()).toISOString()} at ×${o.speed}: ${n.state.settlementMinutes}-minute intervals, ${periodS} s each`,
    `  homes        ${n.homes.length}, each a PV inverter and a grid meter on Modbus TCP${batteries > 0 ? `, ${batteries} with a battery` : ''}${heat ? `; ${heat.site} also a heat meter (Itron CF Echo II map) on its heating circuit, signing heat proofs` : ''}`,
    `  trading      ${n.trading.participants} households registered (keys in homes/*/state/participant.key), funded by operator credits; each interval bilateral contracts (signed by both) and auction orders (gate ${n.terms.gateClosureLeadMs / 60_000} min before the interval) are posted; settled from the meters' proofs after the window and its grace — ${n.hub.httpUrl}/v1/contracts, /v1/prices`,
    `  verify       ${cli} verify ${n.ledgerFile}   (any time; pin the key with --log-key from ${n.hub.httpUrl}/v1/keys)`,
    `ready: homes=${n.homes.length} hub=${n.hub.httpUrl} data=${o.dataDir} ledger=${n.ledgerFile} speed=${o.speed} interval=${n.state.settlementMinutes}m`,
    'Ctrl-C stops everything; `npm start` again continues this ledger, `npm start -- --fresh` starts over.',
  ];
  out.print(lines.join('\n'));
  n.run();
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  // A second Ctrl-C while stopping gives up waiting.
  const force = () => {
    process.stderr.write('demo: stopping anyway\n');
    process.exit(130);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  out.print(`${signal}: stopping the agents, then the hub …`);
  try {
    await n.stop();
  } catch (err) {
    process.stderr.write(`demo: stopped with an error: ${(err as Error).message}\n`);
    return 1;
  }
  out.print(
    `stopped cleanly; the ledger holds ${n.hub.ledger.size} entries. Verify it: ${cli} verify ${n.ledgerFile}`,
  );
  return 0;
}

demoCommand(runDemo)
  .parseAsync()
  .then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      process.stderr.write(`demo: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
