import type { Command } from 'commander';
import { findProfile, type Profile } from '../../device-drivers/profiles/loader.js';
import {
  DeviceNotIdentifiedError,
  deviceReadJson,
  deviceReadTable,
  readDevice,
} from '../../device-drivers/read-device.js';
import { ModbusConnectionError } from '../../device-drivers/transport/index.js';
import { ExitCode } from '../exit-codes.js';
import { addBusOptions, type BusCliOptions, openBus } from './bus-options.js';
import { CommandFailure, runCommand } from './common.js';

interface ReadCliOptions extends BusCliOptions {
  unit: string;
  profile?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('read')
    .description('Read and decode every point of one device (SunSpec, or a device profile)');
  addBusOptions(cmd)
    .requiredOption('--unit <id>', 'the device’s unit id (1..247)')
    .option(
      '--profile <name>',
      'read with this device profile (e.g. eastron-sdm630) instead of SunSpec discovery',
    )
    .option('--json', 'print { "<point>": { "value", "unit" } } as JSON')
    .action((opts: ReadCliOptions) =>
      runCommand('read', async () => {
        const unit = Number(opts.unit);
        if (!Number.isInteger(unit) || unit < 1 || unit > 247) {
          throw new CommandFailure(`--unit ${opts.unit}: expected a unit id 1..247`, ExitCode.usage);
        }
        let profile: Profile | undefined;
        if (opts.profile !== undefined) {
          try {
            profile = findProfile(opts.profile);
          } catch (err) {
            throw new CommandFailure((err as Error).message, ExitCode.usage);
          }
        }
        const { bus } = openBus(opts, 'read');
        try {
          const read = await readDevice(bus, unit, profile ? { profile } : {});
          if (opts.json) process.stdout.write(`${JSON.stringify(deviceReadJson(read), null, 2)}\n`);
          else {
            const from =
              read.source.kind === 'sunspec'
                ? `SunSpec at ${read.source.base}, models ${read.source.models.join(' ')}`
                : `profile ${read.source.name}`;
            process.stdout.write(`unit ${unit} (${from}), ${read.reading.requests} request(s)\n`);
            process.stdout.write(`${deviceReadTable(read)}\n`);
          }
          for (const e of read.reading.errors) process.stderr.write(`warning: ${e}\n`);
          const { requests, failedRequests } = read.reading;
          return requests > 0 && failedRequests === requests ? ExitCode.failure : ExitCode.ok;
        } catch (err) {
          if (err instanceof DeviceNotIdentifiedError || err instanceof ModbusConnectionError) {
            throw new CommandFailure(err.message, ExitCode.failure);
          }
          throw err;
        } finally {
          await bus.close();
        }
      }),
    );
}
