// deploy/hub/wattproof-hub-backup.{service,timer}: `systemd-analyze verify` accepts them, and the
// service's own command line (systemd's %% unescaped, paths moved into a temp dir, the built CLI)
// makes a backup of a ledger that `wattproof-hub verify` accepts, under a new name each run.
// systemd itself cannot run units here (no systemd as PID 1, no D-Bus in this container), so the
// command line is run by /bin/sh as systemd would hand it over.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateHubKey } from '../hub/keys.js';
import { Ledger } from '../hub/ledger/ledger.js';
import { hubCli, runNode } from './support/hub-fixtures.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hubDir = path.join(repoRoot, 'deploy/hub');
const UNITS = ['wattproof-hub-backup.service', 'wattproof-hub-backup.timer'];

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'wp-hub-backup-units-'));
  const unitDir = path.join(root, 'usr/lib/systemd/system');
  cpSync('/usr/lib/systemd/system', unitDir, { recursive: true });
  for (const exe of ['usr/bin/node', 'bin/sh', 'usr/bin/find']) {
    mkdirSync(path.dirname(path.join(root, exe)), { recursive: true });
    writeFileSync(path.join(root, exe), '#!/bin/sh\n');
    chmodSync(path.join(root, exe), 0o755);
  }
  for (const u of UNITS) cpSync(path.join(hubDir, u), path.join(unitDir, u));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function unitValue(file: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(readFileSync(path.join(hubDir, file), 'utf8'));
  if (!m) throw new Error(`${file} has no ${key}=`);
  return m[1] as string;
}

describe('hub backup units', () => {
  it('pass systemd-analyze verify', () => {
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...UNITS], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(unitValue('wattproof-hub-backup.timer', 'Unit')).toBe('wattproof-hub-backup.service');
    expect(unitValue('wattproof-hub-backup.service', 'User')).toBe('wattproof-hub');
  });

  it("the service's command line makes a verified backup, a new file each run", {
    timeout: 300_000,
  }, async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'wp-hub-backup-run-'));
    const data = path.join(work, 'lib');
    const backups = path.join(work, 'backups');
    mkdirSync(data, { mode: 0o700 });
    mkdirSync(backups, { mode: 0o700 });
    // A real (empty) ledger with its log identity; no hub process is needed, the backup reads the file.
    const { key } = loadOrCreateHubKey(path.join(data, 'hub.key'));
    const db = new Database(path.join(data, 'ledger.db'));
    const ledger = new Ledger(db, {
      signer: { origin: 'test.example/log', secretKey: key.secretKey, publicKey: key.publicKey },
    });
    expect(ledger.checkpoint()).toBeUndefined();
    db.close();

    const exec = unitValue('wattproof-hub-backup.service', 'ExecStart')
      .replaceAll('%%', '%')
      .replace('/usr/bin/node', process.execPath)
      .replace('/opt/wattproof/dist/hub/cli.js', hubCli)
      .replace('/var/lib/wattproof-hub', data)
      .replace('/var/backups/wattproof-hub', backups);
    const m = /^\/bin\/sh -c '(.*)'$/.exec(exec);
    expect(m, exec).not.toBeNull();
    const run = () => spawnSync('/bin/sh', ['-c', m?.[1] as string], { encoding: 'utf8', timeout: 60_000 });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 1100)); // the name has whole seconds
    const second = run();
    expect(second.status, second.stderr).toBe(0);
    const files = readdirSync(backups).filter((f) => /^ledger-\d{8}T\d{6}Z\.db$/.test(f));
    expect(files).toHaveLength(2);
    for (const f of files) {
      expect(statSync(path.join(backups, f)).mode & 0o777).toBe(0o600);
      const v = await runNode(hubCli, ['verify', path.join(backups, f)], 60_000);
      expect(v.code, v.stdout + v.stderr).toBe(0);
    }
  });
});
