// A mirror follows a hub over HTTP, keeps a verified copy, and alarms when the hub (same log key)
// serves a history that is not an extension of the one it signed before: a rollback or a fork.
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Hub } from '../hub/hub.js';
import { KEY_FILE, LEDGER_FILE } from '../hub/hub.js';
import { Mirror, MirrorAlarm } from '../hub/mirror/mirror.js';
import { verifyLedgerFile } from '../hub/verify/verify-ledger.js';
import { startTestHub, TestGateway } from './support/hub-fixtures.js';

const stops: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

async function publishSome(hub: Hub, n: number): Promise<TestGateway> {
  const g = new TestGateway();
  await g.enrol(hub.httpUrl);
  await g.connect();
  let last = '';
  for (let i = 0; i < n; i++) {
    last = g.nextProof();
    await g.publishProof(last);
  }
  await g.receiptFor(last, 'accepted');
  await hub.settle();
  stops.push(() => g.close());
  return g;
}

async function alarmOf(m: Mirror): Promise<MirrorAlarm> {
  try {
    await m.syncOnce();
  } catch (err) {
    if (err instanceof MirrorAlarm) return err;
    throw err;
  }
  throw new Error('expected an alarm');
}

describe('mirror', () => {
  it('keeps a verified copy, then alarms on a rollback and on a fork by a hub with the same key', async () => {
    const { hub, dir } = await startTestHub();
    const mirrorDir = mkdtempSync(path.join(tmpdir(), 'wattproof-mirror-'));
    await publishSome(hub, 4);
    const m1 = new Mirror({ from: hub.httpUrl, dir: mirrorDir });
    const first = await m1.syncOnce();
    expect(first.size).toBe(hub.ledger.size);
    await publishSome(hub, 3);
    const second = await m1.syncOnce();
    expect(second.added).toBe(hub.ledger.size - first.size);
    expect(second.size).toBe(hub.ledger.size);
    const held = second.size;
    m1.close();
    await hub.stop();
    const copy = verifyLedgerFile(path.join(mirrorDir, LEDGER_FILE));
    expect(copy.failure).toBeUndefined();
    expect(copy.entries).toBe(held);

    // The same hub key, another history: fewer entries first (a rollback), then more (a fork).
    const forkDir = mkdtempSync(path.join(tmpdir(), 'wattproof-fork-'));
    mkdirSync(forkDir, { recursive: true });
    copyFileSync(path.join(dir, KEY_FILE), path.join(forkDir, KEY_FILE));
    const { hub: rogue } = await startTestHub({ dataDir: forkDir });
    stops.push(() => rogue.stop());
    expect(rogue.key.hubId).toBe(hub.key.hubId);
    await publishSome(rogue, 2);
    const m2 = new Mirror({ from: rogue.httpUrl, dir: mirrorDir });
    stops.push(() => m2.close());
    expect((await alarmOf(m2)).kind).toBe('rollback');
    await publishSome(rogue, held);
    const fork = await alarmOf(m2);
    expect(fork.kind).toBe('fork');
    expect(fork.message).toMatch(/not consistent/);
    // Nothing of the rogue history was kept.
    expect(m2.ledger.size).toBe(held);
  });
});
