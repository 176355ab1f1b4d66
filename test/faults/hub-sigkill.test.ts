// Scenario 2: the hub process (`wattproof-hub start`, built CLI) is killed with SIGKILL while
// gateways keep publishing — so kills land during ingest batches and during checkpointing
// (checkpointEvery 4, every 30 ms) — and restarted on the same data dir. The broker (a real
// Mosquitto) stays up; gateways behave as the agent does: keep every signed message until its
// receipt, and resend the unreceipted ones from the oldest. Afterwards the ledger holds every
// message exactly once, in chain order, and `verify` finds the tree matching every checkpoint.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MosquittoFiles } from '../../hub/broker/mosquitto-files.js';
import { messageHashB64 } from '../../protocol/index.js';
import { spawnHub, TestGateway, waitFor } from '../support/hub-fixtures.js';
import { type RunningMosquitto, startMosquitto } from '../support/mosquitto.js';
import { checkLedger, FULL, type GatewayTruth, prng, recordResult, scenarioSeed } from './checker.js';
import { HUB_PASSWORD } from './setup.js';

const KILLS = FULL ? 60 : 8;
const GATEWAYS = 3;
const OPERATOR = 'fault-operator-token-0123456789abcdef0123456789';

/** A gateway that keeps what it signed until a receipt names it, like the agent's outbox. */
class ResendingGateway extends TestGateway {
  readonly signed: string[] = [];
  private receipted = new Set<string>();
  signBurst(n: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.nextProof());
    this.signed.push(...out);
    return out;
  }
  unreceipted(): string[] {
    for (const r of this.receipts) if (r.status !== 'rejected') this.receipted.add(r.messageHash);
    return this.signed.filter((m) => !this.receipted.has(messageHashB64(m)));
  }
  truth(): GatewayTruth {
    const seen = new Map<number, string>();
    for (const [i, m] of this.signed.entries()) seen.set(i, messageHashB64(m));
    return { gw: this.id, headSeq: this.seq - 1, headHash: this.prev, seen };
  }
}

describe('fault: hub killed with SIGKILL during ingest and checkpointing', () => {
  let broker: RunningMosquitto;
  let dir: string;
  let config: string;
  beforeAll(async () => {
    // The CLI's config requires the Mosquitto password and ACL files with an external broker: the
    // hub writes them (and SIGHUPs Mosquitto) at start and on every enrolment.
    dir = mkdtempSync(path.join(tmpdir(), 'wattproof-fault-hub-'));
    const files = {
      passwordFile: path.join(dir, 'passwd'),
      aclFile: path.join(dir, 'acl'),
      pidFile: path.join(dir, 'mosquitto.pid'),
    };
    new MosquittoFiles({ ...files, hubUsername: 'hub', hubPassword: HUB_PASSWORD }).write('');
    broker = await startMosquitto({
      dir,
      passwordFile: files.passwordFile,
      aclFile: files.aclFile,
      extraConfig: ['max_queued_messages 100000'],
    });
    writeFileSync(files.pidFile, `${broker.pid()}\n`);
    config = path.join(dir, 'hub.yaml');
    writeFileSync(
      config,
      [
        `dataDir: ${path.join(dir, 'data')}`,
        'ledger: {checkpointEvery: 4, checkpointIntervalMs: 30}',
        'ingest: {gapWaitMs: 10000}',
        `http: {host: 127.0.0.1, port: 0, operatorToken: ${OPERATOR}}`,
        `broker: {external: {url: '${broker.url}', username: hub, password: ${HUB_PASSWORD}, mosquittoPasswordFile: ${files.passwordFile}, mosquittoAclFile: ${files.aclFile}, mosquittoPidFile: ${files.pidFile}}}`,
        'log: {level: warn}',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it(
    `${KILLS} kills of the hub: nothing lost, duplicated or reordered; the tree matches its checkpoints`,
    async () => {
      const seed = scenarioSeed();
      console.log(`[faults] hub-sigkill seed=${seed} kills=${KILLS}`);
      const rand = prng(seed);
      let hub: { child: ChildProcess; httpUrl: string; brokerUrl: string; stderr: () => string } =
        await spawnHub(config);
      const gateways: ResendingGateway[] = [];
      let logKey = '';
      for (let i = 0; i < GATEWAYS; i++) {
        const g = new ResendingGateway();
        // Enrolment through the operator API of the CLI hub (token, then the gateway's key).
        const res = await fetch(`${hub.httpUrl}/v1/enroll-tokens`, {
          method: 'POST',
          headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
          body: JSON.stringify({ site: `site-${i}` }),
        });
        const { token } = (await res.json()) as { token: string };
        const enrol = await fetch(`${hub.httpUrl}/v1/enroll`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token, publicKey: Buffer.from(g.publicKey).toString('base64url') }),
        });
        expect(enrol.status).toBe(201);
        g.credentials = (await enrol.json()) as TestGateway['credentials'];
        logKey = g.credentials!.hub.logVerifierKey;
        // Mosquitto reloads the password file asynchronously after the hub's SIGHUP.
        await waitFor(
          'the broker to accept the new credentials',
          async () => {
            try {
              await g.connect(broker.url);
              return true;
            } catch {
              return undefined;
            }
          },
          15_000,
        );
        gateways.push(g);
      }
      const all = () => gateways.flatMap((g) => g.unreceipted());
      const publishAll = async () => {
        for (const g of gateways) for (const m of g.unreceipted()) await g.publishProof(m);
      };
      const hubs: string[] = [];
      try {
        for (let k = 0; k < KILLS; k++) {
          // A burst per gateway, then the kill at a random moment while the hub works through it.
          for (const g of gateways)
            for (const m of g.signBurst(10 + Math.floor(rand() * 30))) await g.publishProof(m);
          await new Promise((r) => setTimeout(r, Math.floor(rand() * 400)));
          hub.child.kill('SIGKILL');
          await new Promise((r) => hub.child.once('exit', r));
          hubs.push(hub.stderr());
          hub = await spawnHub(config);
          // Gateways resend what has no receipt (the hub answers repeats with the same receipt).
          await publishAll();
        }
        await waitFor(
          'every message receipted',
          async () => {
            if (all().length === 0) return true;
            await publishAll();
            await new Promise((r) => setTimeout(r, 500));
            return undefined;
          },
          120_000,
        );
        hub.child.kill('SIGTERM');
        await new Promise((r) => hub.child.once('exit', r));
        const report = checkLedger(path.join(dir, 'data', 'ledger.db'), {
          gateways: gateways.map((g) => g.truth()),
          logKey,
        });
        recordResult({ scenario: 'hub SIGKILL (ingest/checkpointing)', runs: KILLS, report });
        expect(report.problems).toEqual([]);
        expect(report.lost).toBe(0);
        expect(report.duplicated).toBe(0);
        expect(report.chainBreaks).toBe(0);
        expect(report.entriesFound).toBe(report.entriesExpected);
        expect(report.verifyOk).toBe(true);
        // Receipts after restarts point at the original entries: one accepted index per message.
        for (const g of gateways) {
          const idx = new Map<string, number>();
          for (const r of g.receipts) {
            if (r.status === 'rejected') continue;
            const before = idx.get(r.messageHash);
            expect(before === undefined || before === r.index, `${g.id}: two indexes for one message`).toBe(
              true,
            );
            idx.set(r.messageHash, r.index);
          }
        }
      } finally {
        hub.child.kill('SIGKILL');
        for (const g of gateways) await g.close();
      }
    },
    FULL ? 1_800_000 : 180_000,
  );
});
