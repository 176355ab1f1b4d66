import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadAgentConfig,
  parseAgentConfig,
  schemaKeyPaths,
  settlementPeriodMs,
} from '../agent/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const examplePath = path.join(root, 'deploy/agent/agent.example.yaml');

function problems(text: string): string[] {
  try {
    parseAgentConfig(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

const minimal = `hub: {url: 'mqtt://127.0.0.1:1884'}
devices:
  - {name: grid, transport: {type: tcp, host: 127.0.0.1}, unit: 1, kind: sunspec, role: grid}
`;

describe('agent config', () => {
  it('accepts the complete example in deploy/ and fills no surprises', () => {
    const c = loadAgentConfig(examplePath);
    expect(c.devices.map((d) => d.name)).toEqual(['grid-meter', 'pv-inverter', 'heatpump-meter']);
    expect(c.gateway.settlementMinutes).toBe(15);
    expect(settlementPeriodMs(c)).toBe(15 * 60_000);
    const serial = c.devices[2]?.transport;
    expect(serial?.type === 'serial' && serial.parity).toBe('none');
  });

  it('fills defaults for a minimal file', () => {
    const c = parseAgentConfig(minimal);
    expect(c.gateway.stateDir).toBe('/var/lib/wattproof');
    expect(c.devices[0]?.pollSeconds).toBe(5);
    expect(c.devices[0]?.transport).toMatchObject({ type: 'tcp', port: 502 });
    expect(c.telemetry).toMatchObject({ enabled: true, intervalSeconds: 10, bufferSize: 1000 });
    expect(c.hub.protocolVersion).toBe(5);
  });

  it('names the key path, the bad value and what is allowed', () => {
    const p = problems(`hub: {url: 'mqtt://h'}
devices:
  - {name: grid, transport: {type: tcp, host: h}, unit: 1, kind: sunspec, role: grid}
  - {name: pv, transport: {type: tcp, host: h}, unit: 300, kind: sunspec, role: pv}
`);
    expect(p).toEqual(['devices[1].unit: 300 is not allowed; a Modbus unit id is 1..247']);
  });

  it('reports every problem at once, unknown keys included', () => {
    const p = problems(`gateway: {settlementMinutes: 7}
hub: {url: 'http://h', password: hunter2, passwordFile: /x}
devices:
  - {name: Grid!, transport: {type: usb}, unit: 1, kind: profile, role: moon, pollsecond: 5}
telemetry: {intervalSeconds: ten}
`);
    expect(p).toContain(
      'gateway.settlementMinutes: 7 is not allowed; settlementMinutes is one of 1, 5, 15, 30, 60 (15 is the default; 1 for demos)',
    );
    expect(p.some((l) => l.startsWith('hub.url: "http://h" is not allowed;'))).toBe(true);
    expect(p.some((l) => l.startsWith('devices[0].name: "Grid!" is not allowed;'))).toBe(true);
    expect(p).toContain('devices[0].transport.type: "usb" is not allowed; transport.type is tcp or serial');
    expect(p.some((l) => l.startsWith('devices[0].role: "moon" is not allowed; role is one of grid'))).toBe(
      true,
    );
    expect(p).toContain(
      'devices[0].pollsecond: unknown key; check its spelling against docs/agent-config.md',
    );
    expect(p.some((l) => l.startsWith('telemetry.intervalSeconds: "ten" is not allowed'))).toBe(true);
    expect(p.join('\n')).not.toContain('hunter2');
  });

  it('says what is missing', () => {
    const p = problems('devices: []\n');
    expect(p).toEqual(['hub: missing; must be a mapping (with url: the hub broker)']);
  });

  it('checks cross-key rules: profile with kind, unique names, cert pairs', () => {
    const p = problems(`hub: {url: 'mqtt://h', clientCert: /c.pem}
devices:
  - {name: a, transport: {type: tcp, host: h}, unit: 1, kind: profile, role: grid}
`);
    expect(p).toContain('hub.clientKey: missing; a client certificate needs both clientCert and clientKey');
    expect(p).toContain('devices[0].profile: missing; kind is profile, so name the profile (e.g. sdm630)');
    const dup = problems(`hub: {url: 'mqtt://h'}
devices:
  - {name: a, transport: {type: tcp, host: h}, unit: 1, kind: sunspec, role: grid}
  - {name: a, transport: {type: tcp, host: h}, unit: 2, kind: sunspec, role: pv}
`);
    expect(dup).toEqual([
      'devices[1].name: "a" is not allowed; device names must be unique; devices[0] is also called a',
    ]);
  });

  it('reports YAML syntax errors and unreadable files as config errors', () => {
    expect(problems('hub: [unclosed\n')[0]).toMatch(/^YAML syntax:/);
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-agent-config-'));
    expect(() => loadAgentConfig(path.join(dir, 'nope.yaml'))).toThrow(/does not exist/);
  });

  it('resolves relative paths against the config file directory', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-agent-config-'));
    const file = path.join(dir, 'agent.yaml');
    writeFileSync(file, `gateway: {stateDir: state}\n${minimal}`);
    expect(loadAgentConfig(file).gateway.stateDir).toBe(path.join(dir, 'state'));
  });

  it('documents every schema key in docs/agent-config.md', () => {
    const doc = readFileSync(path.join(root, 'docs/agent-config.md'), 'utf8');
    const keys = schemaKeyPaths();
    expect(keys.length).toBeGreaterThan(40);
    const undocumented = keys.filter(
      (k) =>
        !doc.includes(`\`${k}\``) &&
        !['gateway', 'hub', 'devices', 'clock', 'telemetry', 'logging'].includes(k),
    );
    expect(undocumented).toEqual([]);
    for (const section of ['gateway', 'hub', 'devices', 'clock', 'telemetry', 'logging']) {
      expect(doc).toContain(`## \`${section}\``);
    }
  });
});
