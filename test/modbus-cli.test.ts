// The executables as an installer uses them: `wattproof-sim` starts a simulated home and says
// when it is ready; `wattproof-agent scan` and `read` find and read it over TCP and over a socat
// pseudo-terminal, with JSON on stdout and progress on stderr only. Runs the built dist/ files
// (`npm test` builds first).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PtyPair, startPtyPair } from './support/socat.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SIM = path.join(root, 'dist/device-drivers/sim/cli.js');
const AGENT = path.join(root, 'dist/agent/cli.js');
const exec = promisify(execFile);

interface RunningSim {
  child: ChildProcess;
  ready: string;
  lines: string[];
  stop(): Promise<void>;
}

/** Starts wattproof-sim and resolves with its "ready" line. */
async function startSim(args: string[]): Promise<RunningSim> {
  if (!existsSync(SIM)) throw new Error(`${SIM} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [SIM, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`wattproof-sim not ready in 10 s; stderr: ${err}`)),
      10_000,
    );
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (line.startsWith('wattproof-sim ready')) {
          clearTimeout(timer);
          resolve(line);
        }
        nl = buf.indexOf('\n');
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`wattproof-sim exited with ${code}: ${err}`));
    });
  });
  return {
    child,
    ready,
    lines,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function agent(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return exec(process.execPath, [AGENT, ...args], { timeout: 60_000 }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({
      stdout: e.stdout,
      stderr: e.stderr,
      code: e.code,
    }),
  );
}

const HOME = [
  '--unit',
  '1=sunspec-inverter',
  '--unit',
  '2=sunspec-meter',
  '--unit',
  '3=sunspec-battery@50000',
];
const HOME4 = [...HOME, '--unit', '4=sdm630', '--start', '2025-06-21T15:00:00Z'];

describe('wattproof-sim and wattproof-agent scan/read over TCP', () => {
  let sim: RunningSim;
  let port: number;
  beforeAll(async () => {
    sim = await startSim(['--tcp', '0', ...HOME4, '--speed', '60']);
    port = Number(/tcp=127\.0\.0\.1:(\d+)/.exec(sim.ready)?.[1]);
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('prints the port it got for --tcp 0 and the devices it serves', () => {
    expect(port).toBeGreaterThan(0);
    expect(sim.ready).toContain(
      'units=1=sunspec-inverter@40000,2=sunspec-meter@40000,3=sunspec-battery@50000,4=sdm630',
    );
  });

  it('scan --json prints one JSON array on stdout; progress and summary go to stderr', async () => {
    const r = await agent(['scan', '--tcp', `127.0.0.1:${port}`, '--units', '1-6', '--json']);
    const devices = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(devices.map((d) => [d.unit, d.base, d.models, d.profile])).toEqual([
      [1, 40000, [1, 103, 160], null],
      [2, 40000, [1, 203], null],
      [3, 50000, [1, 124, 802], null],
      [4, null, [], 'eastron-sdm630'],
    ]);
    for (const d of devices) {
      expect(Object.keys(d).sort()).toEqual([
        'base',
        'manufacturer',
        'model',
        'models',
        'profile',
        'serial',
        'unit',
      ]);
    }
    expect(r.stderr).toMatch(/scanning 6 unit id\(s\)/);
    expect(r.stderr).toMatch(/scan done in [\d.]+ s: 4 device\(s\) identified/);
  });

  it('read --json maps <model>.<point> to { value, unit } with scale factors applied', async () => {
    const r = await agent(['read', '--tcp', `127.0.0.1:${port}`, '--unit', '2', '--json']);
    const points = JSON.parse(r.stdout) as Record<string, { value: unknown; unit: unknown }>;
    expect(points['203.TotWhImp']).toEqual({ value: expect.any(Number), unit: 'Wh' });
    expect(points['203.TotWhExp']?.unit).toBe('Wh');
    expect(points['203.Hz']?.value).toBeGreaterThan(49.9);
    expect(points['203.Hz']?.value).toBeLessThan(50.1);
    expect(points['1.Mn']).toEqual({ value: 'Wattproof Sim', unit: null });
  });

  it('read without --json prints a table; --profile reads a non-SunSpec meter', async () => {
    const r = await agent([
      'read',
      '--tcp',
      `127.0.0.1:${port}`,
      '--unit',
      '4',
      '--profile',
      'eastron-sdm630',
    ]);
    expect(r.stdout).toMatch(/unit 4 \(profile eastron-sdm630\)/);
    expect(r.stdout).toMatch(/^import_energy\s+\d+(\.\d+)?\s+Wh/m);
  });

  it('answers stdin commands: a fault makes the device vanish for the agent, clear brings it back', async () => {
    sim.child.stdin?.write('fault 2 absent\n');
    await expect.poll(() => sim.lines.some((l) => l.startsWith('ok unit 2: absent'))).toBe(true);
    const gone = await agent([
      'read',
      '--tcp',
      `127.0.0.1:${port}`,
      '--unit',
      '2',
      '--timeout',
      '100',
      '--json',
    ]);
    expect(gone.code).toBe(1);
    sim.child.stdin?.write('clear 2\nstatus\n');
    await expect.poll(() => sim.lines.some((l) => /pv=\d+W load=\d+W/.test(l))).toBe(true);
    const back = await agent(['read', '--tcp', `127.0.0.1:${port}`, '--unit', '2', '--json']);
    expect(JSON.parse(back.stdout)['203.W']).toBeDefined();
  });

  it('refuses a bad command line with a message that names the fix', async () => {
    const r = await agent(['scan', '--tcp', 'nonsense:port']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected HOST:PORT/);
  });
});

describe('wattproof-sim --rtu and wattproof-agent scan --serial (socat pseudo-terminals)', () => {
  let pty: PtyPair;
  let sim: RunningSim;
  beforeAll(async () => {
    pty = await startPtyPair();
    sim = await startSim(['--rtu', pty.device, '--baud', '19200', ...HOME]);
  });
  afterAll(async () => {
    await sim?.stop();
    await pty?.close();
  });

  it('finds the three devices on the serial line', async () => {
    const r = await agent([
      'scan',
      '--serial',
      pty.client,
      '--baud',
      '19200',
      '--units',
      '1-4',
      // Generous for a loaded CI machine: the simulator is another process on the same cores.
      '--timeout',
      '400',
      '--json',
    ]);
    const devices = JSON.parse(r.stdout) as Array<{ unit: number; base: number; models: number[] }>;
    expect(devices.map((d) => [d.unit, d.base, d.models])).toEqual([
      [1, 40000, [1, 103, 160]],
      [2, 40000, [1, 203]],
      [3, 50000, [1, 124, 802]],
    ]);
  });
});

describe('wattproof-sim --help', () => {
  it('explains how to start a simulated home', async () => {
    const { stdout } = await exec(process.execPath, [SIM, '--help']);
    for (const s of [
      '--tcp',
      '--rtu',
      '--unit',
      '--speed',
      'sunspec-inverter',
      'sdm630',
      'simulated home',
      '--fault',
    ]) {
      expect(stdout).toContain(s);
    }
  });

  it('rejects an unknown device kind, naming the kinds there are', async () => {
    const r = await exec(process.execPath, [SIM, '--tcp', '0', '--unit', '1=toaster']).catch(
      (e: { stderr: string; code: number }) => e,
    );
    expect(r.stderr).toMatch(/kinds: sunspec-inverter, sunspec-meter, sunspec-battery, sdm630/);
  });
});
