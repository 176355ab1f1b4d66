// The agent's commands as installers run them, against real parts: a real Mosquitto with a
// password file, simulated SunSpec devices over Modbus TCP, real files in temp dirs.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveCredentials } from '../agent/credentials.js';
import { createIdentity } from '../agent/identity.js';
import { ManualClock } from '../device-drivers/sim/clock.js';
import { createDevice } from '../device-drivers/sim/devices.js';
import { SimUnits } from '../device-drivers/sim/modbus-handler.js';
import { Home } from '../device-drivers/sim/physics/home.js';
import { SimTcpServer } from '../device-drivers/sim/tcp-server.js';
import { runAgentCli } from './support/agent-cli.js';
import { type SimHome, startSimHome } from './support/agent-sim-home.js';
import {
  freePort,
  type RunningMosquitto,
  startMosquitto,
  writeMosquittoPasswordFile,
} from './support/mosquitto.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'wattproof-agent-cli-'));

describe('wattproof-agent commands', () => {
  let broker: RunningMosquitto;
  let sim: SimHome;
  let deadPort: number;

  beforeAll(async () => {
    const dir = tmp();
    const pw = path.join(dir, 'passwd');
    writeMosquittoPasswordFile(pw, { 'gw-doctor': 'right-password-123' });
    broker = await startMosquitto({ dir, passwordFile: pw });
    sim = await startSimHome({ scale: 1, origin: Date.now() });
    deadPort = await freePort();
  });
  afterAll(async () => {
    await sim?.close();
    await broker?.stop();
  });

  function gateway(opts: { password: string; devicePort: number; synced: boolean }) {
    const dir = tmp();
    const stateDir = path.join(dir, 'state');
    const syncFile = path.join(dir, 'synced');
    if (opts.synced) writeFileSync(syncFile, '');
    const config = path.join(dir, 'agent.yaml');
    writeFileSync(
      config,
      [
        `gateway: {stateDir: ${stateDir}}`,
        `hub: {url: '${broker.url}'}`,
        'devices:',
        `  - {name: grid, transport: {type: tcp, host: 127.0.0.1, port: ${opts.devicePort}, timeoutMs: 300}, unit: 1, kind: sunspec, role: grid}`,
        `clock: {syncCheck: file, syncFile: ${syncFile}}`,
        '',
      ].join('\n'),
    );
    createIdentity(stateDir);
    saveCredentials(path.join(stateDir, 'mqtt-credentials.json'), {
      username: 'gw-doctor',
      password: opts.password,
    });
    return { dir, stateDir, config };
  }

  it('doctor passes when everything is in order', async () => {
    const g = gateway({ password: 'right-password-123', devicePort: sim.port, synced: true });
    const r = await runAgentCli(['doctor', '--config', g.config, '--json']);
    const out = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ name: string; verdict: string }> };
    expect(out.checks.filter((c) => c.verdict === 'fail')).toEqual([]);
    expect(r.code).toBe(0);
    expect(out.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'config',
        'state directory',
        'gateway key',
        'disk space',
        'outbox',
        'clock',
        'device grid',
        'broker',
      ]),
    );
  });

  it('doctor names each red check and what to do, and exits 1', async () => {
    const g = gateway({ password: 'wrong-password', devicePort: deadPort, synced: false });
    const r = await runAgentCli(['doctor', '--config', g.config]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL {2}clock: not synchronised[^\n]*\n\s+→ enable NTP/);
    expect(r.stdout).toMatch(
      /FAIL {2}device grid: [^\n]*\n\s+→ check the wiring\/address \(127\.0\.0\.1:\d+, unit 1\)/,
    );
    expect(r.stdout).toMatch(/FAIL {2}broker: [^\n]*\n\s+→ the broker refused the credentials/);
    expect(r.stdout).toMatch(/ok {4}gateway key: gw-/);
    expect(r.stdout).not.toContain('wrong-password');
  });

  it('doctor reads an Eastron SDM630 (the drivers’ simulator) through its device profile', async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 0));
    const home = new Home({ startMs: clock.now() });
    const units = new SimUnits();
    units.add(3, createDevice('sdm630', { home, clock, unit: 3 }));
    const server = new SimTcpServer(units, { port: 0 });
    const { port } = await server.listen();
    try {
      const g = gateway({ password: 'right-password-123', devicePort: port, synced: true });
      writeFileSync(
        g.config,
        readFileSync(g.config, 'utf8').replace(
          /unit: 1, kind: sunspec, role: grid/,
          'unit: 3, kind: profile, profile: sdm630, role: heatpump, serial: SDM-42',
        ),
      );
      const r = await runAgentCli(['doctor', '--config', g.config, '--json']);
      const out = JSON.parse(r.stdout) as {
        ok: boolean;
        checks: Array<{ name: string; verdict: string; detail: string }>;
      };
      const dev = out.checks.find((c) => c.name === 'device grid');
      expect(dev?.verdict, dev?.detail).toBe('ok');
      expect(dev?.detail).toMatch(/^Eastron .* serial SDM-42: import \d+ Wh, export \d+ Wh$/);
      expect(r.code).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('run with a bad config names the key, exits 3 and creates nothing', async () => {
    const dir = tmp();
    const config = path.join(dir, 'agent.yaml');
    writeFileSync(
      config,
      `gateway: {stateDir: ${path.join(dir, 'state')}, settlementMinutes: 7}\nhub: {url: '${broker.url}'}\ndevices: []\n`,
    );
    const r = await runAgentCli(['run', '--config', config]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      'gateway.settlementMinutes: 7 is not allowed; settlementMinutes is one of 1, 5, 15, 30, 60',
    );
    expect(readdirSync(dir)).toEqual(['agent.yaml']);
    const missing = await runAgentCli(['run', '--config', path.join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('does not exist');
  });

  it('run without a key exits 4 and says to run init', async () => {
    const dir = tmp();
    const config = path.join(dir, 'agent.yaml');
    writeFileSync(
      config,
      `gateway: {stateDir: ${path.join(dir, 'state')}}\nhub: {url: '${broker.url}'}\ndevices: []\n`,
    );
    const r = await runAgentCli(['run', '--config', config]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('wattproof-agent init');
    expect(existsSync(path.join(dir, 'state', 'outbox.sqlite'))).toBe(false);
  });

  it('status reports a stopped agent with its outbox', async () => {
    const g = gateway({ password: 'x', devicePort: sim.port, synced: true });
    const r = await runAgentCli(['status', '--json', '--config', g.config]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as {
      running: boolean;
      outbox: { pending: number; headSeq: number };
      gatewayId: string;
    };
    expect(s).toMatchObject({ running: false, outbox: { pending: 0, headSeq: -1 } });
    expect(s.gatewayId).toMatch(/^gw-/);
    const human = await runAgentCli(['status', '--config', g.config]);
    expect(human.stdout).toMatch(/agent +not running/);
  });
});
