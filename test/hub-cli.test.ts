// The hub's executable as installers and auditors use it: config errors name the key, `start`
// creates its key (mode 0600) and serves, `token create` makes a working token, `verify` and
// `export` (+ wattproof-verify) pass on a good ledger and fail, naming the entry, on a changed one.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { b64url } from '../protocol/index.js';
import {
  type EnrolAnswer,
  hubCli,
  OPERATOR_TOKEN,
  postEnroll,
  runNode,
  spawnHub,
  TestGateway,
  verifyCliPath,
} from './support/hub-fixtures.js';

function writeConfig(dir: string, extra = ''): string {
  const file = path.join(dir, 'hub.yaml');
  writeFileSync(
    file,
    `dataDir: ./data
http:
  port: 0
  operatorToken: ${OPERATOR_TOKEN}
broker:
  embedded:
    port: 0
ledger:
  checkpointIntervalMs: 20
${extra}`,
  );
  return file;
}

describe('wattproof-hub CLI', () => {
  it('refuses a bad config with exit 3, naming the key', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-hubcli-'));
    const typo = writeConfig(dir, 'ingest:\n  gapWaitMS: 5\n');
    const r = await runNode(hubCli, ['start', '--config', typo]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/ingest: unknown key gapWaitMS/);
    writeFileSync(typo, 'dataDir: ./d\nhttp:\n  port: 99999\n');
    const r2 = await runNode(hubCli, ['start', '--config', typo]);
    expect(r2.code).toBe(3);
    expect(r2.stderr).toMatch(/http\.port/);
    const r3 = await runNode(hubCli, ['start', '--config', path.join(dir, 'missing.yaml')]);
    expect(r3.code).toBe(3);
    expect(r3.stderr).toMatch(/cannot read config/);
  });

  // Five Node processes one after another: allow for a loaded 2-core machine.
  it('start, token create, enrol; then verify and export pass, and fail on a changed entry', {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-hubcli-'));
    const config = writeConfig(dir);
    const hub = await spawnHub(config);
    let vkey = '';
    try {
      const keyFile = path.join(dir, 'data', 'hub.key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(keyFile, 'utf8')).toMatch(/"secretKey"/);
      expect(hub.stderr()).not.toMatch(/secretKey/);
      const t = await runNode(hubCli, ['token', 'create', '--site', 'barn-2', '--config', config, '--json']);
      expect(t.code, t.stderr).toBe(0);
      const { token } = JSON.parse(t.stdout) as { token: string };
      const g = new TestGateway();
      const res = await postEnroll(hub.httpUrl, { token, publicKey: b64url.encode(g.publicKey) });
      expect(res.status).toBe(201);
      g.credentials = res.body as EnrolAnswer;
      vkey = g.credentials.hub.logVerifierKey;
      await g.connect();
      const m = g.nextProof();
      await g.publishProof(m);
      await g.receiptFor(m, 'accepted');
      await g.close();
    } finally {
      const exited = new Promise((r) => hub.child.once('exit', r));
      hub.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    const db = path.join(dir, 'data', 'ledger.db');
    const ok = await runNode(hubCli, ['verify', db]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok: 2 entries/);
    const out = path.join(dir, 'export');
    const ex = await runNode(hubCli, ['export', '--db', db, '--out', out]);
    expect(ex.code, ex.stderr).toBe(0);
    const v = await runNode(verifyCliPath, [out, '--log-key', vkey]);
    expect(v.code, v.stdout + v.stderr).toBe(0);

    execFileSync('sqlite3', [
      db,
      "DROP TRIGGER entries_no_update; UPDATE entries SET leaf = substr(leaf, 1, 59) || CASE substr(leaf, 60, 1) WHEN 'A' THEN 'B' ELSE 'A' END || substr(leaf, 61) WHERE idx = 1;",
    ]);
    const bad = await runNode(hubCli, ['verify', db]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAILED at entry 1: /);
  });
});
