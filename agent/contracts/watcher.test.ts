// The watcher on the agent's real outbox (SQLite in a temp dir): it signs one fulfilment event per
// side when the window closes, the event verifies with the gateway's key and continues its chain,
// and a restart (reopening the files) never signs a second one. Time is an explicit clock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { b64url, sha256 } from '../../protocol/index.js';
import { EXAMPLE_T0, EXAMPLE_KEYS as K } from '../../protocol/messages/examples.js';
import {
  type EnergyContract,
  FULFILMENT_TYP,
  type FulfilmentEvent,
  METER_PROOF_TYP,
  type MeterProof,
  verifyMessage,
} from '../../protocol/messages/index.js';
import { Outbox } from '../outbox.js';
import { enqueueOnOutbox } from './outbox-enqueue.js';
import { ContractWatchStore } from './store.js';
import { ContractWatcher, type WatcherClock } from './watcher.js';
import type { WatchedContract } from './watcher-core.js';

const Q = 900_000;
const WINDOW = { start: EXAMPLE_T0, end: EXAMPLE_T0 + 4 * Q };
const GW = K.gatewayA;

const contract: EnergyContract = {
  product: 'energy',
  seller: K.seller.id,
  buyer: K.buyer.id,
  energy: 'electricity',
  settlementPeriodMs: Q,
  window: WINDOW,
  currency: 'EUR',
  deliveryPoints: {
    seller: [{ gw: GW.id, meter: 'grid-meter' }],
    buyer: [{ gw: K.gatewayB.id, meter: 'grid-meter' }],
  },
  deposits: { seller: 60, buyer: 120 },
  disputeWindowMs: 86_400_000,
  nonce: 'd2F0Y2hlci1vdXRib3gtdGVzdA',
  createdAt: EXAMPLE_T0 - 86_400_000,
  quantity: { wh: 1000, per: 'interval' },
  priceMinorPerKWh: 29,
  penaltyMinorPerKWh: 20,
};
const WATCHED: WatchedContract = { id: `ct-${b64url.encode(sha256('outbox-test'))}`, contract };

/** An explicit clock: time moves only when the test says so, and due timers then run. */
class TestClock implements WatcherClock {
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  constructor(public t: number) {}
  now = () => this.t;
  after(ms: number, fn: () => void) {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
  advanceTo(t: number) {
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= t).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.t = due.at;
      due.live = false;
      due.fn();
    }
    this.t = t;
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wattproof-watcher-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the agent's state as `run` would: outbox, store on the same database, watcher. */
function open(clock: TestClock) {
  const outbox = new Outbox(path.join(dir, 'outbox.sqlite'), { gatewayId: GW.id, secretKey: GW.secretKey });
  const store = new ContractWatchStore(outbox.db);
  const events: string[] = [];
  const watcher = new ContractWatcher({
    gatewayId: GW.id,
    clock,
    contracts: () => store.contracts(),
    proofsIn: (meters, window) => store.proofsIn(meters, window),
    alreadySigned: (id, role) => store.hasSigned(id, role),
    signAndEnqueue: enqueueOnOutbox(outbox, store, clock.now),
    graceMs: 2 * Q,
    recheckMs: 60_000,
    onEvent: (e) => events.push(e.kind),
  });
  return { outbox, store, watcher, events };
}

const counters = { importWh: 10_000, exportWh: 50_000 };

/** Signs gateway A's proof of one interval into the outbox; records it unless told not to. */
function signProof(o: ReturnType<typeof open>, i: number, exportWh: number, record = true) {
  const start = EXAMPLE_T0 + i * Q;
  let payload: MeterProof | undefined;
  const row = o.outbox.appendSigned(
    'proof',
    (link) => {
      payload = {
        ...link,
        meter: { id: 'grid-meter', serial: 'SN-1' },
        energy: 'electricity',
        interval: { start, end: start + Q },
        importWh: { start: counters.importWh, end: counters.importWh + 1 },
        exportWh: { start: counters.exportWh, end: counters.exportWh + exportWh },
        samples: 90,
        expectedSamples: 90,
        flags: [],
        signedAt: start + Q + 500,
      };
      return { typ: METER_PROOF_TYP, payload };
    },
    start + Q + 500,
  );
  counters.importWh += 1;
  counters.exportWh += exportWh;
  if (record && payload) o.store.recordProof(row.messageHash, payload);
  return row;
}

function events(o: ReturnType<typeof open>) {
  return o.outbox
    .pending(-1, 1000)
    .filter((r) => r.kind === 'event')
    .map((r) => {
      const v = verifyMessage(r.jws, { publicKeyFor: (kid) => (kid === GW.id ? GW.publicKey : undefined) });
      if (!v.ok || v.typ !== FULFILMENT_TYP) throw new Error(`bad event: ${JSON.stringify(v)}`);
      return { row: r, event: v.payload as FulfilmentEvent };
    });
}

describe('contract watcher on the real outbox', () => {
  it('signs one event when the window closes, chained after the proofs it cites', () => {
    const clock = new TestClock(WINDOW.start - Q);
    const o = open(clock);
    o.store.addContract(WATCHED);
    o.watcher.start();
    const rows = [1000, 1000, 700, 1000].map((wh, i) => signProof(o, i, wh));
    clock.advanceTo(WINDOW.end - 1);
    expect(events(o)).toHaveLength(0);
    clock.advanceTo(WINDOW.end + 2 * 60_000);
    const [e, ...rest] = events(o);
    expect(rest).toHaveLength(0);
    // contracted 4000; measured 1000 + 1000 + 700 + 1000 = 3700 → partial.
    expect(e?.event).toMatchObject({
      gw: GW.id,
      contract: WATCHED.id,
      role: 'seller',
      contractedWh: 4000,
      measuredWh: 3700,
      outcome: 'partial',
      proofs: rows.map((r) => r.messageHash),
      seq: 4,
      prev: rows[3]?.messageHash,
    });
    expect(e?.event.signedAt).toBeGreaterThanOrEqual(WINDOW.end);
    expect(o.store.hasSigned(WATCHED.id, 'seller')).toBe(true);
    o.watcher.stop();
    o.outbox.close();
  });

  it('a restart, even after the event was receipted and deleted, never signs it again', () => {
    const clock = new TestClock(WINDOW.end + Q);
    let o = open(clock);
    o.store.addContract(WATCHED);
    for (let i = 0; i < 4; i++) signProof(o, i, 1000);
    o.watcher.check();
    const [first] = events(o);
    expect(first?.event.outcome).toBe('fulfilled');
    // The hub receipts everything: the outbox forgets the proofs and the event.
    for (const r of o.outbox.pending(-1, 100))
      o.outbox.applyReceipt(
        { seq: r.seq, messageHash: r.messageHash, leafHash: r.leafHash, index: r.seq, status: 'accepted' },
        clock.t,
      );
    o.outbox.close();

    o = open(clock);
    clock.advanceTo(WINDOW.end + 5 * Q);
    const steps = o.watcher.check();
    expect(steps).toEqual([{ contract: WATCHED.id, steps: [{ action: 'done', role: 'seller' }] }]);
    expect(events(o)).toHaveLength(0);
    expect(o.outbox.head().seq).toBe(4); // nothing new in the chain
    o.outbox.close();
  });

  it('a proof stored in the outbox but not yet recorded (crash between) is recovered at start', () => {
    const clock = new TestClock(WINDOW.end + 3 * Q);
    let o = open(clock);
    o.store.addContract(WATCHED);
    for (let i = 0; i < 3; i++) signProof(o, i, 1000);
    signProof(o, 3, 1000, false); // the crash
    o.outbox.close();

    o = open(clock);
    expect(o.store.recordFromOutbox(o.outbox.pending(-1, 1000))).toBe(1);
    o.watcher.check();
    expect(events(o)[0]?.event).toMatchObject({ measuredWh: 4000, outcome: 'fulfilled' });
    o.outbox.close();
  });

  it('refuses a store on another database than the outbox (signing and marking must commit together)', () => {
    const clock = new TestClock(0);
    const o = open(clock);
    const other = new Outbox(path.join(dir, 'other.sqlite'), { gatewayId: GW.id, secretKey: GW.secretKey });
    expect(() => enqueueOnOutbox(o.outbox, new ContractWatchStore(other.db), clock.now)).toThrow(
      /outbox database/,
    );
    other.close();
    o.outbox.close();
  });
});
