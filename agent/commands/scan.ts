import type { Command } from 'commander';
import { type ScannedDevice, scanBus } from '../../device-drivers/scan.js';
import { ModbusConnectionError, parseUnits } from '../../device-drivers/transport/index.js';
import { ExitCode } from '../exit-codes.js';
import { addBusOptions, type BusCliOptions, openBus } from './bus-options.js';
import { CommandFailure, runCommand } from './common.js';

interface ScanCliOptions extends BusCliOptions {
  units?: string;
  json?: boolean;
}

function describe(d: ScannedDevice): string {
  const what = [d.manufacturer, d.model].filter(Boolean).join(' ') || 'unknown device';
  const how =
    d.base !== null ? `SunSpec at ${d.base}, models ${d.models.join(' ')}` : `profile ${d.profile ?? '—'}`;
  return `unit ${String(d.unit).padStart(3)}  ${what}${d.serial ? `, serial ${d.serial}` : ''}  (${how})`;
}

export function register(program: Command): void {
  const cmd = program
    .command('scan')
    .description('Find Modbus devices on a serial bus or behind a TCP gateway, and identify them');
  addBusOptions(cmd)
    .option('--units <range>', 'unit ids to try, e.g. 1-10 or 1,3,5-7 (default 1-247 on serial, 1-10 on TCP)')
    .option('--json', 'print the devices found as one JSON array on stdout (progress stays on stderr)')
    .action((opts: ScanCliOptions) =>
      runCommand('scan', async () => {
        let units: number[];
        try {
          units = parseUnits(opts.units ?? (opts.serial !== undefined ? '1-247' : '1-10'));
        } catch (err) {
          throw new CommandFailure((err as Error).message, ExitCode.usage);
        }
        const { bus, endpoint } = openBus(opts, 'scan');
        const where = endpoint.kind === 'tcp' ? `${endpoint.host}:${endpoint.port}` : endpoint.path;
        const tty = process.stderr.isTTY === true;
        process.stderr.write(`scanning ${units.length} unit id(s) on ${where}\n`);
        try {
          const result = await scanBus(bus, {
            units,
            onProgress: (ev) => {
              if (ev.kind === 'unit' && tty)
                process.stderr.write(`\r  unit ${ev.unit} (${ev.index}/${ev.total})…   `);
              if (ev.kind === 'found')
                process.stderr.write(`${tty ? '\r' : ''}  found ${describe(ev.device)}\n`);
              if (ev.kind === 'unknown') {
                process.stderr.write(`${tty ? '\r' : ''}  unit ${ev.unit} answers but is not identified\n`);
              }
            },
          });
          const secs = (result.elapsedMs / 1000).toFixed(1);
          process.stderr.write(
            `${tty ? '\r' : ''}scan done in ${secs} s: ${result.devices.length} device(s) identified` +
              `${result.unknown.length > 0 ? `, ${result.unknown.length} unidentified (units ${result.unknown.join(', ')})` : ''}` +
              `, ${result.requests} requests\n`,
          );
          if (opts.json) process.stdout.write(`${JSON.stringify(result.devices)}\n`);
          else for (const d of result.devices) process.stdout.write(`${describe(d)}\n`);
          return result.devices.length > 0 ? ExitCode.ok : ExitCode.failure;
        } catch (err) {
          if (err instanceof ModbusConnectionError) throw new CommandFailure(err.message, ExitCode.failure);
          throw err;
        } finally {
          await bus.close();
        }
      }),
    );
}
