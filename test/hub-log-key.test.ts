// What docs/operations.md ("The log key") says about the hub's log key, pinned with real hubs,
// gateways over MQTT (embedded broker) and SQLite files: the ledger records its origin and key on
// the first start and a hub refuses it with another key or origin (nothing is written); without
// the key the old log still verifies against its pinned verifier key; a mirror that followed the
// old log raises an alarm when the hub signs with a new key (`bad-checkpoint` while it runs,
// `log-key-changed` when it starts again).
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Mirror, MirrorAlarm } from '../hub/mirror/mirror.js';
import { verifyLedgerFile } from '../hub/verify/verify-ledger.js';
import { startTestHub, TestGateway, waitFor } from './support/hub-fixtures.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the log key is the log', () => {
  it('a hub refuses the ledger with another key or origin; the old log verifies without the key; a mirror alarms', {
    timeout: 90_000,
  }, async () => {
    const first = await startTestHub({ origin: 'test.example/log' });
    const dir = first.dir;
    const g = new TestGateway();
    await g.enrol(first.hub.httpUrl);
    await g.connect();
    const m = g.nextProof();
    await g.publishProof(m);
    await g.receiptFor(m, 'accepted');
    await g.close();
    const vkey = first.hub.ledger.verifierKey() as string;

    // A mirror follows the log (its fetch goes to whichever hub serves now).
    let serving = first.hub.httpUrl;
    const mirrorDir = mkdtempSync(path.join(tmpdir(), 'wattproof-mirror-'));
    const mirror = new Mirror({
      from: 'http://hub.invalid',
      dir: mirrorDir,
      log: pino({ level: 'silent' }),
      fetch: (url, init) => fetch(String(url).replace('http://hub.invalid', serving), init),
    });
    cleanups.push(() => mirror.close());
    expect((await mirror.syncOnce()).size).toBe(2);
    await first.hub.stop();

    const ledgerFile = path.join(dir, 'ledger.db');
    const before = readFileSync(ledgerFile);
    const keyFile = path.join(dir, 'hub.key');
    const oldKey = path.join(dir, 'hub.key.old');
    copyFileSync(keyFile, oldKey);

    // Another origin with the same key: refused.
    await expect(startTestHub({ dataDir: dir, origin: 'test.example/log2' })).rejects.toThrow(
      /this ledger belongs to log "test.example\/log" with another key, not to "test.example\/log2"/,
    );
    // A "rotated" key: the hub makes a new one when the file is gone, and refuses the ledger.
    rmSync(keyFile);
    await expect(startTestHub({ dataDir: dir, origin: 'test.example/log' })).rejects.toThrow(
      /this ledger belongs to log "test.example\/log" with another key/,
    );
    expect(readFileSync(ledgerFile).equals(before)).toBe(true);

    // Without any key file, the old log still verifies against its pinned verifier key.
    rmSync(keyFile);
    const report = verifyLedgerFile(ledgerFile, { logKey: vkey });
    expect(report.ok, JSON.stringify(report.failure)).toBe(true);
    expect(report.entries).toBe(2);

    // A new log (new data folder, new key): the mirror that followed the old one raises an alarm.
    const next = await startTestHub({ origin: 'test.example/log' });
    cleanups.push(() => next.hub.stop());
    serving = next.hub.httpUrl;
    const g2 = new TestGateway();
    await g2.enrol(next.hub.httpUrl);
    await waitFor('the new log to sign its first checkpoint', () => next.hub.ledger.latestCheckpoint());
    const alarm = await mirror.syncOnce().then(
      () => undefined,
      (err: unknown) => err,
    );
    // A running mirror keeps the key it learnt: the new checkpoints do not verify with it.
    expect(alarm).toBeInstanceOf(MirrorAlarm);
    expect((alarm as MirrorAlarm).kind).toBe('bad-checkpoint');
    mirror.close();
    cleanups.pop();
    // Started again on its copy, it compares the key the hub states with the one it recorded.
    const again = new Mirror({ from: next.hub.httpUrl, dir: mirrorDir, log: pino({ level: 'silent' }) });
    cleanups.push(() => again.close());
    const alarm2 = await again.syncOnce().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(alarm2).toBeInstanceOf(MirrorAlarm);
    expect((alarm2 as MirrorAlarm).kind).toBe('log-key-changed');
    // The old log's copy in the mirror is intact: the archive of the old log.
    expect(verifyLedgerFile(path.join(mirrorDir, 'ledger.db'), { logKey: vkey }).ok).toBe(true);
  });
});
