// Scenario 2: the hub process (`wattproof-hub start`, built CLI, with its contracts engine) is
// killed with SIGKILL while gateways keep publishing, and restarted on the same data dir. Kills are
// aimed (hub-aim.mjs stops the hub at the point and the kill lands there): a leaf row written in an
// uncommitted append transaction (ingest, or the engine's own entries), a checkpoint signed but not
// stored, a checkpoint stored but its receipts not sent; and some at random moments. Two contracts
// between two households run over a window inside the run, so settlement happens among the kills.
// The broker (a real Mosquitto) stays up; gateways behave as the agent does: keep every signed
// message until its receipt, and resend the unreceipted ones from the oldest. Afterwards the ledger
// holds every message exactly once, in chain order, `verify` finds the tree matching every
// checkpoint, and the checker's own balance arithmetic equals the hub's accounts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MosquittoFiles } from '../../hub/broker/mosquitto-files.js';
import { messageHashB64 } from '../../protocol/index.js';
import type { EnergyContract, MeterProof, MeterProofFlag } from '../../protocol/messages/index.js';
import { TestGateway, waitFor } from '../support/hub-fixtures.js';
import { type RunningMosquitto, startMosquitto } from '../support/mosquitto.js';
import { checkLedger, FULL, type GatewayTruth, prng, recordResult, scenarioSeed } from './checker.js';
import {
  contractStatus,
  hubAccounts,
  newParty,
  participantStatus,
  postContract,
  registerAndFund,
} from './contracts.js';
import { type AimPoint, type HubProcess, killHard, spawnFaultHub, within } from './hub-process.js';
import { HUB_PASSWORD } from './setup.js';

const KILLS = FULL ? 60 : 8;
const GATEWAYS = 3;
const OPERATOR = 'fault-operator-token-0123456789abcdef0123456789';
const M = 60_000;
/** Where the kills go, in turn: a random moment (the first hub runs unaimed) and three aimed points. */
const AIMS: Array<AimPoint | 'random'> = ['random', 'append', 'checkpoint-signed', 'checkpoint-stored'];
/** A bound, not a wait: a restart on a large ledger on a loaded 2-core machine can take a while. */
const START_BOUND_MS = 180_000;
/**
 * How long an aimed hub may take to reach its point (its start included: up to 27 s seen under
 * load) before it is killed anyway and counted as missed. An event, so a bound, not a wait.
 */
const AIM_BOUND_MS = 120_000;

interface MeterStep {
  importWh: number;
  exportWh: number;
  flags?: MeterProofFlag[];
}

/**
 * A gateway that keeps what it signed until a receipt names it, like the agent's outbox. It signs
 * one-minute proofs from `base` on, with the energy `step(i)` gives for interval i.
 */
class ResendingGateway extends TestGateway {
  readonly signed: string[] = [];
  private receipted = new Set<string>();
  base = 0;
  private readonly counters: Array<{ importWh: number; exportWh: number }> = [
    { importWh: 1000, exportWh: 1000 },
  ];
  constructor(private readonly step: (i: number) => MeterStep) {
    super();
  }
  private counterAt(i: number): { importWh: number; exportWh: number } {
    while (this.counters.length <= i) {
      const j = this.counters.length - 1;
      const c = this.counters[j] as { importWh: number; exportWh: number };
      const e = this.step(j);
      this.counters.push({ importWh: c.importWh + e.importWh, exportWh: c.exportWh + e.exportWh });
    }
    return this.counters[i] as { importWh: number; exportWh: number };
  }
  override proofPayload(i = this.seq, seq = this.seq, prev = this.prev): MeterProof {
    const start = this.base + i * M;
    const [a, b] = [this.counterAt(i), this.counterAt(i + 1)];
    return {
      gw: this.id,
      seq,
      prev,
      meter: { id: 'main', serial: 'SN-1' },
      energy: 'electricity',
      interval: { start, end: start + M },
      importWh: { start: a.importWh, end: b.importWh },
      exportWh: { start: a.exportWh, end: b.exportWh },
      samples: 12,
      expectedSamples: 12,
      flags: this.step(i).flags ?? [],
      signedAt: start + M + 1000,
    };
  }
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
        // A gateway's resend of what a killed hub took but never committed arrives behind the
        // broker's queue for the restarted hub; the gap wait outlasts that, so no gap note is due.
        'ingest: {gapWaitMs: 120000}',
        `http: {host: 127.0.0.1, port: 0, operatorToken: ${OPERATOR}}`,
        `broker: {external: {url: '${broker.url}', username: hub, password: ${HUB_PASSWORD}, mosquittoPasswordFile: ${files.passwordFile}, mosquittoAclFile: ${files.aclFile}, mosquittoPidFile: ${files.pidFile}}}`,
        // Settles 10 s after the window's end: the window's proofs are in long before.
        'engine: {currency: EUR, settlementGraceSeconds: 10}',
        'log: {level: warn}',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it(
    `${KILLS} kills of the hub (aimed at uncommitted appends, checkpoint writes and random moments) with two contracts settling among them: nothing lost, duplicated or reordered; the tree matches its checkpoints; balances equal the checker's`,
    async () => {
      const seed = scenarioSeed();
      console.log(`[faults] hub-sigkill seed=${seed} kills=${KILLS}`);
      const rand = prng(seed);
      let hub: HubProcess = spawnFaultHub(config);
      const { httpUrl } = await within(hub.ready, START_BOUND_MS, 'the first hub start', hub.stderr);
      // Gateway 0 (seller's) exports 60 Wh a minute, gateway 1 (buyer's) imports 100 and exports
      // 20, gateway 2 (also the seller's) exports 40 but its proof of the window's minute says its
      // clock was not synchronised, so it counts 0 (docs/contracts.md, zero-count flags).
      const WINDOW_I = 3;
      const steps: Array<(i: number) => MeterStep> = [
        () => ({ importWh: 5, exportWh: 60 }),
        () => ({ importWh: 100, exportWh: 20 }),
        (i) => ({
          importWh: 10,
          exportWh: 40,
          ...(i === WINDOW_I ? { flags: ['clock-unsynchronised'] } : {}),
        }),
      ];
      const gateways: ResendingGateway[] = [];
      let logKey = '';
      for (let i = 0; i < GATEWAYS; i++) {
        const g = new ResendingGateway(steps[i] as (i: number) => MeterStep);
        // Enrolment through the operator API of the CLI hub (token, then the gateway's key).
        const res = await fetch(`${httpUrl}/v1/enroll-tokens`, {
          method: 'POST',
          headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
          body: JSON.stringify({ site: `site-${i}` }),
        });
        const { token } = (await res.json()) as { token: string };
        const enrol = await fetch(`${httpUrl}/v1/enroll`, {
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
      const [gA, gB, gC] = gateways as [ResendingGateway, ResendingGateway, ResendingGateway];

      // Two households, 100 minor units each; S meters with gateways 0 and 2, B with gateway 1.
      const S = newParty();
      const B = newParty();
      await registerAndFund(httpUrl, OPERATOR, S, [gA.id, gC.id], 100);
      await registerAndFund(httpUrl, OPERATOR, B, [gB.id], 100);
      for (const p of [S, B])
        await waitFor('registration approved', async () =>
          (await participantStatus(httpUrl, p.id)) === 'approved' ? true : undefined,
        );
      // One one-minute window, far enough ahead to be reviewed and activated before it starts.
      const W = Math.ceil((Date.now() + 25_000) / M) * M;
      for (const g of gateways) g.base = W - WINDOW_I * M;
      const terms = {
        energy: 'electricity' as const,
        settlementPeriodMs: M,
        window: { start: W, end: W + M },
        currency: 'EUR',
        disputeWindowMs: 0,
        region: 'north',
        createdAt: Date.now(),
      };
      // C1: S sells B 80 Wh in the interval at 200/kWh, penalty 100/kWh (deposits cover both).
      // C2: B sells S 30 Wh over the window at 300/kWh, penalty 50/kWh.
      const c1: EnergyContract = {
        product: 'energy',
        ...terms,
        seller: S.id,
        buyer: B.id,
        deliveryPoints: {
          seller: [
            { gw: gA.id, meter: 'main' },
            { gw: gC.id, meter: 'main' },
          ],
          buyer: [{ gw: gB.id, meter: 'main' }],
        },
        deposits: { seller: 8, buyer: 16 },
        nonce: 'ZmF1bHRzLWMxLWNvbnRyYWN0',
        quantity: { wh: 80, per: 'interval' },
        priceMinorPerKWh: 200,
        penaltyMinorPerKWh: 100,
      };
      const c2: EnergyContract = {
        product: 'energy',
        ...terms,
        seller: B.id,
        buyer: S.id,
        deliveryPoints: { seller: [{ gw: gB.id, meter: 'main' }], buyer: [{ gw: gA.id, meter: 'main' }] },
        deposits: { seller: 2, buyer: 9 },
        nonce: 'ZmF1bHRzLWMyLWNvbnRyYWN0',
        quantity: { wh: 30, per: 'window' },
        priceMinorPerKWh: 300,
        penaltyMinorPerKWh: 50,
      };
      const ids = [await postContract(httpUrl, c1, S, B), await postContract(httpUrl, c2, B, S)];
      await waitFor(
        'both contracts active',
        async () => {
          const st = await Promise.all(ids.map((id) => contractStatus(httpUrl, id)));
          return st.every((x) => x === 'active') ? true : undefined;
        },
        20_000,
      );
      expect(Date.now()).toBeLessThan(W);

      const all = () => gateways.flatMap((g) => g.unreceipted());
      const publishAll = async () => {
        for (const g of gateways) for (const m of g.unreceipted()) await g.publishProof(m);
      };
      const landed: Record<string, number> = {};
      const startMs: number[] = [];
      const noteStart = (h: HubProcess, from: number) => {
        void h.ready.then(() => startMs.push(Date.now() - from)).catch(() => undefined);
      };
      try {
        for (let k = 0; k < KILLS; k++) {
          // A burst per gateway, then the kill where the hub was aimed (or at a random moment).
          for (const g of gateways)
            for (const m of g.signBurst(10 + Math.floor(rand() * 30))) await g.publishProof(m);
          const aim = AIMS[k % AIMS.length] as AimPoint | 'random';
          if (aim === 'random') {
            await new Promise((r) => setTimeout(r, Math.floor(rand() * 400)));
            landed.random = (landed.random ?? 0) + 1;
          } else {
            const reached = await within(hub.aimed, AIM_BOUND_MS, aim, hub.stderr).catch(() => 'missed');
            landed[reached] = (landed[reached] ?? 0) + 1;
          }
          await killHard(hub);
          const next = AIMS[(k + 1) % AIMS.length] as AimPoint | 'random';
          const from = Date.now();
          hub =
            next === 'random' || k + 1 === KILLS
              ? spawnFaultHub(config)
              : // A batch is one append and (at most) one checkpoint: a restarted hub makes a few of
                // each while it works through the queue, so the Nth is drawn from those few.
                spawnFaultHub(config, {
                  point: next,
                  nth: 1 + Math.floor(rand() * (next === 'append' ? 5 : 2)),
                });
          noteStart(hub, from);
          // Gateways resend what has no receipt (the hub answers repeats with the same receipt).
          await publishAll();
        }
        const last = await within(hub.ready, START_BOUND_MS, 'the last hub start', hub.stderr);
        console.log(
          `[faults] hub-sigkill kills landed ${JSON.stringify(landed)}; starts ${startMs.length}, slowest ${Math.max(0, ...startMs)} ms`,
        );
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
        await waitFor(
          'both contracts settled',
          async () => {
            const st = await Promise.all(ids.map((id) => contractStatus(last.httpUrl, id)));
            return st.every((x) => x === 'settled' || x === 'closed') ? true : undefined;
          },
          Math.max(0, W + M - Date.now()) + 60_000,
        );
        const accounts = await hubAccounts(last.httpUrl, [S.id, B.id]);
        hub.child.kill('SIGTERM');
        await within(hub.exited, 30_000, 'the hub to stop on SIGTERM', hub.stderr);
        const report = checkLedger(path.join(dir, 'data', 'ledger.db'), {
          gateways: gateways.map((g) => g.truth()),
          logKey,
          accounts,
        });
        recordResult({ scenario: 'hub SIGKILL (ingest/checkpointing) + 2 contracts', runs: KILLS, report });
        expect(report.problems).toEqual([]);
        expect(report.lost).toBe(0);
        expect(report.duplicated).toBe(0);
        expect(report.chainBreaks).toBe(0);
        expect(report.entriesFound).toBe(report.entriesExpected);
        expect(report.verifyOk).toBe(true);
        // The checker's arithmetic, pinned by hand. C1: seller 60 (gateway 2's 40 is flagged, 0),
        // buyer 100 → delivered 60 of 80; payment floor(60 × 200 / 1000) = 12; penalty
        // min(floor(20 × 100 / 1000), 8) = 2. C2: min(B's export 20, S's import 5) = 5 of 30;
        // payment floor(5 × 300 / 1000) = 1; penalty min(floor(25 × 50 / 1000), 2) = 1.
        // S: 100 − 8 − 9 + (12 + 6) + (8 + 1) = 110.  B: 100 − 16 − 2 + (4 + 2) + (1 + 1) = 90.
        expect(accounts.get(S.id)).toEqual({ available: 110, escrow: 0 });
        expect(accounts.get(B.id)).toEqual({ available: 90, escrow: 0 });
        // Every aimed point was reached and killed at least once.
        for (const a of AIMS) expect(landed[a] ?? 0, `${a}: ${JSON.stringify(landed)}`).toBeGreaterThan(0);
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
    FULL ? 3_600_000 : 360_000,
  );
});
