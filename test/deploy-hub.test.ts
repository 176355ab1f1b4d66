// The hub's systemd units: `systemd-analyze verify` accepts them (in a root holding this machine's
// units and the executables they name), the reload pair watches exactly the files the hub's
// Mosquitto config says it writes, and the service's paths agree with the example hub config.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hubDir = path.join(repoRoot, 'deploy/hub');
const UNITS = [
  'wattproof-hub.service',
  'wattproof-mosquitto-reload.path',
  'wattproof-mosquitto-reload.service',
];

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'wp-hub-units-'));
  const unitDir = path.join(root, 'usr/lib/systemd/system');
  cpSync('/usr/lib/systemd/system', unitDir, { recursive: true });
  // The executables the units name, as the verifier checks they exist and are executable.
  for (const exe of ['usr/bin/node', 'bin/chown', 'bin/systemctl']) {
    mkdirSync(path.dirname(path.join(root, exe)), { recursive: true });
    writeFileSync(path.join(root, exe), '#!/bin/sh\n');
    chmodSync(path.join(root, exe), 0o755);
  }
  for (const u of UNITS) cpSync(path.join(hubDir, u), path.join(unitDir, u));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function unitKeys(file: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) keys.set(m[1] as string, [...(keys.get(m[1] as string) ?? []), m[2] as string]);
  }
  return keys;
}

describe('hub units', () => {
  it('pass systemd-analyze verify, and verify catches a broken one', () => {
    const ok = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...UNITS], { encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const broken = path.join(root, 'usr/lib/systemd/system/wattproof-hub.service');
    writeFileSync(
      broken,
      readFileSync(broken, 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=sometimes'),
    );
    const bad = spawnSync('systemd-analyze', ['verify', `--root=${root}`, 'wattproof-hub.service'], {
      encoding: 'utf8',
    });
    expect(bad.stderr).toMatch(
      /wattproof-hub.service:\d+: Failed to parse protect system value, ignoring: sometimes/,
    );
  });

  it('reload Mosquitto when the hub rewrites exactly the files Mosquitto reads', () => {
    const conf = readFileSync(path.join(repoRoot, 'deploy/mosquitto/mosquitto.conf'), 'utf8');
    const pw = /^password_file (\S+)$/m.exec(conf)?.[1];
    const acl = /^acl_file (\S+)$/m.exec(conf)?.[1];
    expect(unitKeys(path.join(hubDir, 'wattproof-mosquitto-reload.path')).get('PathChanged')).toEqual([
      pw,
      acl,
    ]);
    const reload = unitKeys(path.join(hubDir, 'wattproof-mosquitto-reload.service')).get('ExecStart') ?? [];
    expect(reload[0]).toBe(`/bin/chown mosquitto:mosquitto ${pw} ${acl}`);
    expect(reload[1]).toBe('/bin/systemctl reload-or-restart mosquitto.service');
  });

  it('give the hub its data directory and write access to the Mosquitto files, and nothing else', () => {
    const keys = unitKeys(path.join(hubDir, 'wattproof-hub.service'));
    const example = parse(readFileSync(path.join(repoRoot, 'deploy/mosquitto/hub.example.yaml'), 'utf8')) as {
      dataDir: string;
      broker: { external: { mosquittoPasswordFile: string; mosquittoAclFile: string } };
    };
    expect(`/var/lib/${keys.get('StateDirectory')?.[0]}`).toBe(example.dataDir);
    expect(keys.get('ReadWritePaths')).toEqual([path.dirname(example.broker.external.mosquittoPasswordFile)]);
    expect(path.dirname(example.broker.external.mosquittoAclFile)).toBe(keys.get('ReadWritePaths')?.[0]);
    expect(keys.get('ProtectSystem')).toEqual(['strict']);
    expect(keys.get('User')).toEqual(['wattproof-hub']);
    expect(keys.get('Restart')).toEqual(['always']);
    expect(keys.get('ExecStart')?.[0]).toMatch(/ start --config \/etc\/wattproof\/hub\.yaml$/);
  });
});
