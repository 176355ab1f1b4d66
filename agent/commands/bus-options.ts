// The options `scan` and `read` share: where the bus is (--tcp or --serial with its line settings)
// and how long to wait for an answer.
import { type Command, Option } from 'commander';
import { ModbusBus } from '../../device-drivers/bus.js';
import {
  type Endpoint,
  openTransport,
  parseBaud,
  parseParity,
  parseTcpEndpoint,
} from '../../device-drivers/transport/index.js';
import { ExitCode } from '../exit-codes.js';
import { CommandFailure } from './common.js';

export interface BusCliOptions {
  tcp?: string;
  serial?: string;
  baud: string;
  parity: string;
  timeout?: string;
}

export function addBusOptions(cmd: Command): Command {
  return cmd
    .option('--tcp <host:port>', 'a Modbus TCP device or gateway, e.g. 192.168.1.50:502')
    .option('--serial <path>', 'a serial port with RS-485 devices, e.g. /dev/ttyUSB0')
    .option('--baud <n>', 'serial baud rate', '9600')
    .addOption(
      new Option('--parity <parity>', 'serial parity').choices(['none', 'even', 'odd']).default('none'),
    )
    .option('--timeout <ms>', 'answer timeout per request (default 1000 on TCP, 300 on serial)');
}

export function endpointFrom(opts: BusCliOptions): Endpoint {
  try {
    if ((opts.tcp === undefined) === (opts.serial === undefined)) {
      throw new Error('give either --tcp HOST:PORT or --serial PATH');
    }
    if (opts.tcp !== undefined) return parseTcpEndpoint(opts.tcp);
    return {
      kind: 'rtu',
      path: opts.serial as string,
      baudRate: parseBaud(opts.baud),
      parity: parseParity(opts.parity),
    };
  } catch (err) {
    throw new CommandFailure((err as Error).message, ExitCode.usage);
  }
}

export function timeoutFrom(opts: BusCliOptions, endpoint: Endpoint): number {
  if (opts.timeout === undefined) return endpoint.kind === 'tcp' ? 1000 : 300;
  const ms = Number(opts.timeout);
  if (!Number.isInteger(ms) || ms < 10 || ms > 60_000) {
    throw new CommandFailure(`--timeout ${opts.timeout}: expected milliseconds, 10..60000`, ExitCode.usage);
  }
  return ms;
}

/** A bus on the endpoint. `scan` wants every answer, so it turns back-off and retries off. */
export function openBus(opts: BusCliOptions, mode: 'scan' | 'read'): { bus: ModbusBus; endpoint: Endpoint } {
  const endpoint = endpointFrom(opts);
  const timeoutMs = timeoutFrom(opts, endpoint);
  const transport = openTransport(endpoint, timeoutMs);
  const bus = new ModbusBus(transport, mode === 'scan' ? { retries: 0, backoff: false } : { retries: 1 });
  return { bus, endpoint };
}
