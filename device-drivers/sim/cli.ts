#!/usr/bin/env node
// wattproof-sim: simulated devices (PV inverter, meter, battery) served over Modbus TCP or RTU.
import { Command } from 'commander';

const program = new Command('wattproof-sim')
  .description('Simulated Modbus devices for tests, demos and installer training')
  .option('--tcp <port>', 'serve Modbus TCP on 127.0.0.1:<port>')
  .option('--rtu <path>', 'serve Modbus RTU on a serial device or pseudo-terminal')
  .option('--unit <id=kind...>', 'a device at a unit id, e.g. 1=sunspec-inverter')
  .option('--speed <factor>', 'accelerated time factor', '1')
  .action(() => {
    process.stderr.write('wattproof-sim: no simulated devices are available in this build yet\n');
    process.exitCode = 1;
  });

await program.parseAsync(process.argv);
