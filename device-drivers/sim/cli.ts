#!/usr/bin/env node
// wattproof-sim: a simulated home (PV inverter, grid meters, battery) served over Modbus TCP
// and/or RTU, with physics in real or accelerated time and switchable faults.
import readline from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { DEVICE_DESCRIPTIONS, DEVICE_KINDS, GasMeterDevice, HeatMeterDevice } from './devices.js';
import { parseUnitSpec, Simulator, type UnitSpec } from './simulator.js';

const HELP_AFTER = `
Device kinds (--unit <id>=<kind>[@<sunspec base>]):
${DEVICE_KINDS.map((k) => `  ${k.padEnd(17)} ${DEVICE_DESCRIPTIONS[k]}`).join('\n')}

All devices of one simulator share one home: the PV inverter's output, the household load and
the battery add up at the grid meters (grid = load - PV - battery discharge). Energy counters only
grow, and equal the integral of the power the devices report. A heat meter measures the home's
heating circuit (demand from the outdoor temperature, hot water; with --heat-feed-in, heat fed
back at midday); a gas meter's pulse counter counts its boiler and cooker (input 1) and, with
--gas-feed-in, a producer's feed-in (input 2).

Start a simulated home for development (TCP on 127.0.0.1:1502, an hour passes every minute):
  wattproof-sim --tcp 1502 --unit 1=sunspec-inverter --unit 2=sunspec-meter \\
                --unit 3=sunspec-battery --unit 4=sdm630 --speed 60
  wattproof-agent scan --tcp 127.0.0.1:1502 --units 1-4
  wattproof-agent read --tcp 127.0.0.1:1502 --unit 2

Over RTU, on one end of a pseudo-terminal pair (the agent opens the other end):
  socat -d -d pty,raw,echo=0,link=/tmp/sim-bus pty,raw,echo=0,link=/tmp/agent-bus &
  wattproof-sim --rtu /tmp/sim-bus --unit 1=sunspec-inverter --unit 2=sdm630
  wattproof-agent scan --serial /tmp/agent-bus --baud 9600 --units 1-5

Faults (--fault <unit>:<fault>, repeatable; also typed on stdin while running, e.g. "fault 2 absent"):
  timeout            never answer
  exception=<code>   answer every request with Modbus exception <code> (e.g. 4, 6)
  crc                RTU: answer with a corrupted CRC
  slow=<ms>          answer <ms> late
  absent             the device is gone from the bus (stdin "clear 2" brings it back)
  flap=<s>           gone and back again every <s> real seconds
  counter-reset      energy counters start again from zero
Stdin commands: fault <unit> <fault>, clear <unit>, reset <unit>, status, quit.

--tcp 0 picks a free port. When the servers are up, one line starting with "wattproof-sim ready"
is printed on stdout with the address, the port and the devices.`;

interface Options {
  tcp?: string;
  host: string;
  rtu?: string;
  baud: string;
  parity: 'none' | 'even' | 'odd';
  unit: UnitSpec[];
  speed: string;
  seed: string;
  start?: string;
  pvPeak: string;
  batteryWh: string;
  heatFeedIn: string;
  gasFeedIn: string;
  fault: string[];
}

function collectUnit(value: string, previous: UnitSpec[]): UnitSpec[] {
  try {
    return [...previous, parseUnitSpec(value)];
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} ${value}: expected a positive number`);
  return n;
}

/** Applies one fault (`absent`, `exception=6`, ...) to the device at `unit`. Returns a description. */
function applyFault(sim: Simulator, unit: number, fault: string, timers: NodeJS.Timeout[]): string {
  const device = sim.device(unit);
  const [name, arg] = fault.split('=', 2) as [string, string | undefined];
  switch (name) {
    case 'timeout':
      device.faults.timeout();
      break;
    case 'exception':
      device.faults.exception(Number(arg ?? 4));
      break;
    case 'crc':
      device.faults.corruptCrc();
      break;
    case 'slow':
      device.faults.slow(positive('slow', arg ?? ''));
      break;
    case 'absent':
      device.faults.disappear();
      break;
    case 'flap': {
      const ms = positive('flap', arg ?? '') * 1000;
      timers.push(
        setInterval(() => {
          if (device.faults.absent) device.faults.reappear();
          else device.faults.disappear();
        }, ms),
      );
      break;
    }
    case 'counter-reset':
      device.resetCounters();
      break;
    default:
      throw new Error(
        `unknown fault "${fault}" for unit ${unit}: use timeout, exception=<code>, crc, slow=<ms>, absent, flap=<s> or counter-reset`,
      );
  }
  return `unit ${unit}: ${fault}`;
}

function parseFaultArg(arg: string): { unit: number; fault: string } {
  const m = /^(\d{1,3}):(.+)$/.exec(arg);
  if (!m) throw new Error(`--fault ${arg}: expected <unit>:<fault>, e.g. 2:absent or 3:exception=6`);
  return { unit: Number(m[1]), fault: m[2] ?? '' };
}

function nonNegative(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} ${v}: expected a number ≥ 0`);
  return n;
}

function status(sim: Simulator): string {
  const p = sim.home.power;
  const e = sim.home.energy;
  const extra: string[] = [];
  for (const d of sim.devices.values()) {
    if (d instanceof HeatMeterDevice) {
      const s = d.source.state;
      extra.push(
        `heat=${s.powerW}W flow=${s.flowC.toFixed(1)}C return=${s.returnC.toFixed(1)}C ` +
          `taken=${d.source.totals.takenWh.toFixed(0)}Wh fedIn=${d.source.totals.fedInWh.toFixed(0)}Wh`,
      );
    } else if (d instanceof GasMeterDevice) {
      const [taken, fedIn] = d.pulses();
      extra.push(`gasPulses=${taken}/${fedIn}`);
    }
  }
  return (
    `${new Date(sim.home.now).toISOString()} pv=${p.pvW}W load=${p.loadW}W battery=${p.batteryW}W ` +
    `grid=${p.gridW}W soc=${(sim.home.soc * 100).toFixed(1)}% import=${e.gridImportWh.toFixed(0)}Wh ` +
    `export=${e.gridExportWh.toFixed(0)}Wh ${extra.map((x) => `${x} `).join('')}requests=${sim.requests()}`
  );
}

async function run(opts: Options): Promise<void> {
  if (opts.tcp === undefined && opts.rtu === undefined) {
    throw new Error('nothing to serve: give --tcp <port> and/or --rtu <path>');
  }
  if (opts.unit.length === 0)
    throw new Error('no devices: give at least one --unit <id>=<kind>, e.g. --unit 1=sunspec-inverter');
  let startMs = Date.now();
  if (opts.start !== undefined) {
    startMs = Date.parse(opts.start);
    if (Number.isNaN(startMs))
      throw new Error(`--start ${opts.start}: expected an ISO date, e.g. 2025-06-21T04:00:00Z`);
  }
  const port = opts.tcp === undefined ? undefined : Number(opts.tcp);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new Error(`--tcp ${opts.tcp}: expected a port number 0..65535 (0 picks a free one)`);
  }
  const sim = await Simulator.start({
    units: opts.unit,
    ...(port !== undefined ? { tcp: { host: opts.host, port } } : {}),
    ...(opts.rtu !== undefined
      ? { rtu: { path: opts.rtu, baudRate: positive('--baud', opts.baud), parity: opts.parity } }
      : {}),
    speed: positive('--speed', opts.speed),
    home: {
      seed: Number(opts.seed),
      startMs,
      pvPeakW: positive('--pv-peak', opts.pvPeak),
      batteryWh: Number(opts.batteryWh),
    },
    heat: { feedInPeakW: nonNegative('--heat-feed-in', opts.heatFeedIn) },
    gas: { feedInDm3PerHour: nonNegative('--gas-feed-in', opts.gasFeedIn) },
  });
  const timers: NodeJS.Timeout[] = [];
  for (const arg of opts.fault) {
    const { unit, fault } = parseFaultArg(arg);
    process.stderr.write(`fault ${applyFault(sim, unit, fault, timers)}\n`);
  }
  const where = [
    sim.tcpPort !== undefined ? `tcp=${opts.host}:${sim.tcpPort}` : '',
    opts.rtu !== undefined ? `rtu=${opts.rtu}` : '',
  ].filter(Boolean);
  const devices = [...sim.devices.values()]
    .map((d) => `${d.unit}=${d.kind}${d.base !== null ? `@${d.base}` : ''}`)
    .join(',');
  process.stdout.write(`wattproof-sim ready ${where.join(' ')} units=${devices} speed=${opts.speed}\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    for (const t of timers) clearInterval(t);
    await sim.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  if (!process.stdin.isTTY || process.stdin.readable) {
    const rl = readline.createInterface({ input: process.stdin, terminal: false });
    rl.on('line', (line) => {
      const [cmd, unitArg, fault] = line.trim().split(/\s+/);
      try {
        if (cmd === undefined || cmd === '') return;
        if (cmd === 'status') process.stdout.write(`${status(sim)}\n`);
        else if (cmd === 'quit') void stop();
        else if (cmd === 'fault')
          process.stdout.write(`ok ${applyFault(sim, Number(unitArg), fault ?? '', timers)}\n`);
        else if (cmd === 'clear') {
          sim.device(Number(unitArg)).faults.clear();
          process.stdout.write(`ok unit ${unitArg}: faults cleared\n`);
        } else if (cmd === 'reset') {
          sim.device(Number(unitArg)).resetCounters();
          process.stdout.write(`ok unit ${unitArg}: counters reset\n`);
        } else process.stdout.write(`error: unknown command "${cmd}" (fault, clear, reset, status, quit)\n`);
      } catch (err) {
        process.stdout.write(`error: ${(err as Error).message}\n`);
      }
    });
  }
}

const program = new Command('wattproof-sim')
  .description(
    'A simulated home — SunSpec PV inverter, SunSpec and Eastron meters, SunSpec battery — served over\n' +
      'Modbus TCP and/or RTU, for tests, demos and installer training.',
  )
  .option('--tcp <port>', 'serve Modbus TCP on <host>:<port> (0 = a free port, printed when ready)')
  .option('--host <host>', 'address to listen on for TCP', '127.0.0.1')
  .option('--rtu <path>', 'serve Modbus RTU on a serial device or pseudo-terminal')
  .option('--baud <n>', 'RTU baud rate', '9600')
  .option('--parity <p>', 'RTU parity: none, even or odd', 'none')
  .option('--unit <id=kind>', 'a device at a unit id, e.g. 1=sunspec-inverter (repeatable)', collectUnit, [])
  .option('--speed <factor>', 'time runs <factor> times faster than real time', '1')
  .option('--seed <n>', 'seed of the weather and the household (same seed, same day)', '1')
  .option('--start <iso-time>', 'simulated time at start (default: now)')
  .option('--pv-peak <W>', 'PV peak power', '6000')
  .option('--battery-wh <Wh>', 'battery capacity', '10000')
  .option('--heat-feed-in <W>', 'heat-meter: peak heat the home feeds into the network at midday', '0')
  .option('--gas-feed-in <dm3/h>', 'gas-meter: gas fed into the network on input 2, dm³ per hour', '0')
  .option(
    '--fault <unit:fault>',
    'switch a fault on, e.g. 2:absent or 3:exception=6 (repeatable)',
    collect,
    [],
  )
  .addHelpText('after', HELP_AFTER)
  .showHelpAfterError()
  .action(async (opts: Options) => {
    try {
      await run(opts);
    } catch (err) {
      process.stderr.write(`wattproof-sim: ${(err as Error).message}\n`);
      process.exit(2);
    }
  });

await program.parseAsync(process.argv);
