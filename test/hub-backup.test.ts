// Backup and restore of the ledger while the hub runs, with real parts: a real hub (in-process, and
// the built CLI), gateways publishing signed proofs over MQTT (the hub's embedded broker), real
// SQLite files in temp dirs, and the `sqlite3` shell to tamper with a copy.
// Pinned here: the backup is one consistent snapshot although entries are appended between its
// steps; it refuses to overwrite and is mode 0600; restore refuses a ledger a running hub holds
// and a data folder without the log's key; `verify` passes on the restored file; the restored hub
// continues the same log (its next checkpoint is consistent with the backup's tree head, signed by
// the same key); a backup of a tampered ledger, and a tampered backup, fail verify and are refused
// by restore.
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backupLedger, ledgerInUse, restoreLedger } from '../hub/backup/online-backup.js';
import { verifyLedgerFile } from '../hub/verify/verify-ledger.js';
import { b64, b64url, openCheckpoint, parseNoteVerifierKey, verifyConsistency } from '../protocol/index.js';
import {
  hubCli,
  OPERATOR_TOKEN,
  runNode,
  spawnHub,
  startTestHub,
  TestGateway,
  waitFor,
} from './support/hub-fixtures.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Gateways that keep publishing proofs until stopped (bounded in count), remembering each one. */
function publishLoop(gateways: TestGateway[], maxPerGateway: number) {
  const published = new Map<TestGateway, string[]>(gateways.map((g) => [g, []]));
  let stopped = false;
  const runs = gateways.map(async (g) => {
    const mine = published.get(g) as string[];
    while (!stopped && mine.length < maxPerGateway) {
      const jws = g.nextProof();
      mine.push(jws);
      await g.publishProof(jws);
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  return {
    published,
    count: () => [...published.values()].reduce((n, l) => n + l.length, 0),
    stop: async () => {
      stopped = true;
      await Promise.all(runs);
    },
  };
}

function writeConfig(file: string, dataDir: string): string {
  writeFileSync(
    file,
    `dataDir: ${dataDir}
http:
  port: 0
  operatorToken: ${OPERATOR_TOKEN}
broker:
  embedded:
    port: 0
ledger:
  checkpointIntervalMs: 20
`,
  );
  return file;
}

/** Flips one character of entry `idx`'s leaf, past the append-only trigger (as an intruder could). */
function tamper(db: string, idx: number): void {
  execFileSync('sqlite3', [
    db,
    `DROP TRIGGER entries_no_update; UPDATE entries SET leaf = substr(leaf, 1, 59) || CASE substr(leaf, 60, 1) WHEN 'A' THEN 'B' ELSE 'A' END || substr(leaf, 61) WHERE idx = ${idx};`,
  ]);
}

type HubChild = Awaited<ReturnType<typeof spawnHub>>;

async function stopChild(hub: HubChild): Promise<number | null> {
  if (hub.child.exitCode !== null) return hub.child.exitCode;
  const exited = new Promise<number | null>((r) => hub.child.once('exit', (code) => r(code)));
  hub.child.kill('SIGTERM');
  return exited;
}

describe('ledger backup while the hub ingests', () => {
  it('copies one snapshot although entries are appended between its steps', { timeout: 60_000 }, async () => {
    const { hub, dir } = await startTestHub();
    cleanups.push(() => hub.stop());
    const gateways = [new TestGateway(), new TestGateway()];
    for (const g of gateways) {
      await g.enrol(hub.httpUrl);
      await g.connect();
      cleanups.push(() => g.close());
    }
    const loop = publishLoop(gateways, 2000);
    cleanups.push(() => loop.stop());
    await waitFor('100 entries', () => (hub.ledger.size >= 100 ? true : undefined), 30_000);

    // One page per step: the event loop (and with it ingest) runs between steps. On a loaded
    // machine one copy can finish before ingest appends anything, so copy again (bounded) until
    // the hub appended during a copy.
    let sizesSeen: number[] = [];
    let r: Awaited<ReturnType<typeof backupLedger>> | undefined;
    let file = '';
    const work = mkdtempSync(path.join(tmpdir(), 'wattproof-backup-'));
    for (let attempt = 0; attempt < 10; attempt++) {
      const seen: number[] = [];
      file = path.join(work, `ledger-${attempt}.backup`);
      r = await backupLedger(path.join(dir, 'ledger.db'), file, {
        pagesPerStep: 1,
        onProgress: () => seen.push(hub.ledger.size),
      });
      // Every copy is the log as it stood when it began, however much was appended meanwhile.
      expect(r.entries).toBeLessThanOrEqual(seen[0] as number);
      sizesSeen = seen;
      if ((seen.at(-1) as number) > (seen[0] as number)) break;
      await waitFor('more entries', () => (hub.ledger.size > (seen.at(-1) as number) ? true : undefined));
    }
    await loop.stop();
    if (!r) throw new Error('no backup made');

    expect(r.steps).toBeGreaterThan(10);
    expect(r.pages).toBeGreaterThan(10);
    // The hub appended while the copy was being made…
    expect(sizesSeen.at(-1)).toBeGreaterThan(sizesSeen[0] as number);
    // …and the copy is the log as it stood when the backup began, not a mixture.
    expect(r.entries).toBeLessThanOrEqual(sizesSeen[0] as number);
    expect(r.entries).toBeGreaterThanOrEqual(100);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const report = verifyLedgerFile(file);
    expect(report.ok, JSON.stringify(report.failure)).toBe(true);
    expect(report.entries).toBe(r.entries);
    expect(r.checkpoint?.size).toBeLessThanOrEqual(r.entries);
    expect(r.logVerifierKey).toBe(hub.ledger.verifierKey());

    // The hub holds its ledger open for its whole life: restore must see that.
    expect(ledgerInUse(path.join(dir, 'ledger.db'))).toBe(true);
    await expect(restoreLedger(file, dir, { replace: true })).rejects.toThrow(/open in a running process/);
    // The refusals changed nothing: the hub still appends and checkpoints.
    for (const [g, list] of loop.published) await g.receiptFor(list.at(-1) as string, 'accepted', 30_000);
    const size = hub.ledger.size;
    expect(size).toBe(2 + loop.count());
    const g = gateways[0] as TestGateway;
    const m = g.nextProof();
    await g.publishProof(m);
    await g.receiptFor(m, 'accepted');
    expect(hub.ledger.size).toBe(size + 1);
  });
});

describe('backup of a tampered ledger', () => {
  it('copies it faithfully; verify names the changed entry and restore refuses it', {
    timeout: 60_000,
  }, async () => {
    const { hub, dir } = await startTestHub();
    const g = new TestGateway();
    await g.enrol(hub.httpUrl);
    await g.connect();
    for (let i = 0; i < 3; i++) {
      const m = g.nextProof();
      await g.publishProof(m);
      await g.receiptFor(m, 'accepted');
    }
    await g.close();
    await hub.stop();
    tamper(path.join(dir, 'ledger.db'), 2);
    const work = mkdtempSync(path.join(tmpdir(), 'wattproof-backup-'));
    const file = path.join(work, 'b.db');
    const r = await backupLedger(path.join(dir, 'ledger.db'), file);
    expect(r.entries).toBe(4);
    const report = verifyLedgerFile(file);
    expect(report.ok).toBe(false);
    expect(report.failure?.index).toBe(2);
    const fresh = path.join(work, 'fresh');
    mkdirSync(fresh, { mode: 0o700 });
    copyFileSync(path.join(dir, 'hub.key'), path.join(fresh, 'hub.key'));
    await expect(restoreLedger(file, fresh)).rejects.toThrow(
      /verify failed on .* at entry 2: .*nothing was changed/,
    );
    expect(readdirSync(fresh)).toEqual(['hub.key']);
  });
});

describe('restore from a copy without MQTT credentials', () => {
  it('restores the log and says which gateways must enrol again', { timeout: 60_000 }, async () => {
    const { hub, dir } = await startTestHub();
    cleanups.push(() => hub.stop());
    const g = new TestGateway();
    await g.enrol(hub.httpUrl);
    await g.connect();
    cleanups.push(() => g.close());
    const m = g.nextProof();
    await g.publishProof(m);
    await g.receiptFor(m, 'accepted');
    const work = mkdtempSync(path.join(tmpdir(), 'wattproof-backup-'));
    await expect(
      backupLedger(path.join(dir, 'ledger.db'), path.join(work, 'missing', 'b.db')),
    ).rejects.toThrow(/missing does not exist: create it first/);
    const file = path.join(work, 'b.db');
    await backupLedger(path.join(dir, 'ledger.db'), file);
    // What a mirror's copy is like: the log and its bindings, no credentials.
    execFileSync('sqlite3', [file, 'DELETE FROM mqtt_credentials;']);
    const fresh = path.join(work, 'fresh');
    mkdirSync(fresh, { mode: 0o700 });
    copyFileSync(path.join(dir, 'hub.key'), path.join(fresh, 'hub.key')); // (no engine: no validator key)
    const r = await restoreLedger(file, fresh);
    expect(r.entries).toBe(2);
    expect(r.verify.ok).toBe(true);
    expect(r.warnings).toEqual([
      expect.stringMatching(/^1 gateways bound in the log have no MQTT credentials/),
    ]);
    // A backup made by `backup` carries them: no warning.
    const full = path.join(work, 'full.db');
    await backupLedger(path.join(dir, 'ledger.db'), full);
    const fresh2 = path.join(work, 'fresh2');
    mkdirSync(fresh2, { mode: 0o700 });
    copyFileSync(path.join(dir, 'hub.key'), path.join(fresh2, 'hub.key'));
    // Restored by root into a folder another user owns (the hub's): the file is that user's.
    if (process.getuid?.() === 0) chownSync(fresh2, 65534, 65534);
    expect((await restoreLedger(full, fresh2)).warnings).toEqual([]);
    if (process.getuid?.() === 0) expect(statSync(path.join(fresh2, 'ledger.db')).uid).toBe(65534);
  });
});

describe('wattproof-hub backup and restore', () => {
  // A dozen Node processes one after another on a loaded 2-core machine (each can take 10 s to load).
  it('backs up a running hub, restores into a fresh data dir, verify passes, the restored hub continues the log', {
    timeout: 420_000,
  }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-hub-backup-'));
    const data = path.join(dir, 'data');
    const hub = await spawnHub(writeConfig(path.join(dir, 'hub.yaml'), './data'));
    cleanups.push(() => stopChild(hub));
    const gateways = [new TestGateway(), new TestGateway(), new TestGateway()];
    for (const g of gateways) {
      await g.enrol(hub.httpUrl);
      await g.connect();
      cleanups.push(() => g.close());
    }
    const loop = publishLoop(gateways, 1500);
    cleanups.push(() => loop.stop());
    await waitFor('60 proofs', () => (loop.count() >= 60 ? true : undefined), 30_000);
    const receiptsBefore = gateways.reduce((n, g) => n + g.receipts.length, 0);

    const backupFile = path.join(dir, 'backups', 'ledger-1.db');
    mkdirSync(path.dirname(backupFile));
    const b = await runNode(
      hubCli,
      ['backup', '--data', data, '--to', backupFile, '--pages-per-step', '1'],
      60_000,
    );
    const receiptsDuring = gateways.reduce((n, g) => n + g.receipts.length, 0) - receiptsBefore;
    await loop.stop();
    expect(b.code, b.stderr).toBe(0);
    // Progress on stderr, up to 100 %.
    expect(b.stderr.match(/^backup: \d+% \(\d+\/\d+ pages\)$/gm)?.length).toBeGreaterThan(2);
    expect(b.stderr).toMatch(/backup: 100% /);
    // The hub kept ingesting (and receipting) while the backup ran.
    expect(receiptsDuring).toBeGreaterThan(0);
    const entries = Number(/^backed up (\d+) entries to /m.exec(b.stdout)?.[1]);
    const head = /^tree head: size (\d+) root (\S+)$/m.exec(b.stdout);
    const vkey = /^log key: (\S+)$/m.exec(b.stdout)?.[1] as string;
    expect(head, b.stdout).not.toBeNull();
    const headSize = Number(head?.[1]);
    const headRoot = b64.decode(head?.[2] as string);
    expect(entries).toBeGreaterThanOrEqual(63); // 3 bindings + 60 proofs at least
    expect(headSize).toBeLessThanOrEqual(entries);
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);

    // A second backup to the same name is refused and leaves the first intact.
    const bytes = readFileSync(backupFile);
    const again = await runNode(hubCli, ['backup', '--data', data, '--to', backupFile], 60_000);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists: a backup never overwrites/);
    expect(readFileSync(backupFile).equals(bytes)).toBe(true);

    // Restore refuses the running hub's data folder, with or without --replace.
    for (const extra of [[], ['--replace']]) {
      const r = await runNode(hubCli, ['restore', '--from', backupFile, '--data', data, ...extra], 60_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/open in a running process \(the hub\?\): stop it first/);
    }
    // Every proof receipted, then the hub stops cleanly.
    for (const [g, list] of loop.published) await g.receiptFor(list.at(-1) as string, 'accepted', 30_000);
    const totalBefore = ((await (await fetch(`${hub.httpUrl}/v1/stats`)).json()) as { size: number }).size;
    expect(totalBefore).toBeGreaterThan(entries);
    for (const g of gateways) await g.close();
    expect(await stopChild(hub)).toBe(0);

    // verify passes on the backup file as it is.
    const v = await runNode(hubCli, ['verify', backupFile, '--log-key', vkey], 60_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`^ok: ${entries} entries`));

    // A tampered backup: verify names the entry, restore refuses it.
    const tampered = path.join(dir, 'backups', 'tampered.db');
    copyFileSync(backupFile, tampered);
    tamper(tampered, 5);
    const bad = await runNode(hubCli, ['verify', tampered], 60_000);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAILED at entry 5: /);

    // Restore into a fresh data folder: first without the log key (refused), then with it.
    const fresh = path.join(dir, 'fresh');
    mkdirSync(fresh, { mode: 0o700 });
    const noKey = await runNode(hubCli, ['restore', '--from', backupFile, '--data', fresh], 60_000);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/hub\.key is missing: copy the hub's log key/);
    for (const f of ['hub.key', 'validator.key']) {
      copyFileSync(path.join(data, f), path.join(fresh, f));
    }
    const refusedTampered = await runNode(hubCli, ['restore', '--from', tampered, '--data', fresh], 60_000);
    expect(refusedTampered.code).toBe(1);
    expect(refusedTampered.stderr).toMatch(/verify failed on .* at entry 5: .*nothing was changed/);
    const restored = await runNode(
      hubCli,
      ['restore', '--from', backupFile, '--data', fresh, '--log-key', vkey],
      60_000,
    );
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(new RegExp(`^restored ${entries} entries to `));
    const restoredDb = path.join(fresh, 'ledger.db');
    expect(statSync(restoredDb).mode & 0o777).toBe(0o600);
    const vr = await runNode(hubCli, ['verify', restoredDb, '--log-key', vkey], 60_000);
    expect(vr.code, vr.stdout + vr.stderr).toBe(0);
    expect(vr.stdout).toMatch(new RegExp(`^ok: ${entries} entries`));
    // A second restore over it needs --replace.
    const over = await runNode(hubCli, ['restore', '--from', backupFile, '--data', fresh], 60_000);
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/exists: restore does not overwrite a ledger unless --replace/);

    // The restored hub starts on it and continues the same log: the gateways send again what the
    // backup lacks (the agent's outbox does this on its own), and the new checkpoint, signed by
    // the same key, is consistent with the backup's tree head.
    const hub2 = await spawnHub(writeConfig(path.join(dir, 'hub-restored.yaml'), './fresh'));
    cleanups.push(() => stopChild(hub2));
    for (const g of gateways) {
      g.receipts.splice(0);
      await g.connect(hub2.brokerUrl);
    }
    for (const [g, list] of loop.published) {
      for (const jws of list) await g.publishProof(jws);
    }
    for (const [g, list] of loop.published) await g.receiptFor(list.at(-1) as string, undefined, 60_000);
    const note = await waitFor('a checkpoint covering every proof', async () => {
      const text = await (await fetch(`${hub2.httpUrl}/v1/checkpoint`)).text();
      const opened = openCheckpoint(text, [parseNoteVerifierKey(vkey)]);
      return opened.ok && opened.checkpoint.size >= totalBefore ? opened.checkpoint : undefined;
    });
    expect(note.size).toBe(totalBefore); // the same entries, none twice
    const proof = (await (
      await fetch(`${hub2.httpUrl}/v1/proof/consistency?first=${headSize}&second=${note.size}`)
    ).json()) as { proof: string[] };
    expect(
      verifyConsistency(
        headSize,
        note.size,
        headRoot,
        note.root,
        proof.proof.map((h) => b64url.decode(h)),
      ),
    ).toBe(true);
    for (const g of gateways) await g.close();
    expect(await stopChild(hub2)).toBe(0);
    const final = await runNode(hubCli, ['verify', restoredDb, '--log-key', vkey], 60_000);
    expect(final.code, final.stdout + final.stderr).toBe(0);
  });
});
