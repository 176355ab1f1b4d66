// Hostile input on every topic the hub listens to (INGEST_SUBSCRIPTIONS: gw/+/proof, event, status), from an
// attacker on an open broker (a real Mosquitto where anyone may publish anywhere — the hub's own
// checks are all that stand in the way). Property-based (fast-check, fixed seed): broken JSON,
// wrong types, huge and deeply nested payloads, odd unicode, negative and overflowing integers,
// wrong typ, wrong kid, forged signatures, replays, timestamps outside the protocol's range, and
// topic spoofing by another enrolled gateway. None is accepted; each is counted under its reason
// (GET /v1/stats); a legitimate gateway's proofs get receipts during and after the flood.
import fc from 'fast-check';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../hub/hub.js';
import { INGEST_SUBSCRIPTIONS } from '../../hub/ingest/ingest.js';
import { b64url, generateSecretKey, signJws } from '../../protocol/index.js';
import { GATEWAY_STATUS_TYP } from '../../protocol/messages/gateway-status.js';
import { METER_PROOF_TYP } from '../../protocol/messages/meter-proof.js';
import { FULL } from '../faults/checker.js';
import { hubOnMosquitto } from '../faults/setup.js';
import { TestGateway, waitFor } from '../support/hub-fixtures.js';
import type { RunningMosquitto } from '../support/mosquitto.js';

const RUNS = FULL ? 2000 : 200;
/** The last level of each ingest subscription (`wattproof/v1/gw/+/proof` → `proof`). */
const INGEST_TOPICS = INGEST_SUBSCRIPTIONS.map((s) => s.slice(s.lastIndexOf('/') + 1));
const SEED = Number(process.env.WATTPROOF_SEED) || 20261125;

interface Hostile {
  kind: string;
  topic: string;
  payload: string | Buffer;
  /** Reasons the hub may count it under (any one). */
  reasons: readonly string[];
}

let broker: RunningMosquitto;
let hub: Hub;
let legit: TestGateway;
let spoofer: TestGateway;
let attacker: mqtt.MqttClient;

beforeAll(async () => {
  ({ hub, broker } = await hubOnMosquitto());
  legit = new TestGateway();
  spoofer = new TestGateway();
  for (const g of [legit, spoofer]) {
    await g.enrol(hub.httpUrl);
    await g.connect(broker.url);
  }
  attacker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, protocolVersion: 5 });
}, 60_000);
afterAll(async () => {
  await attacker?.endAsync(true);
  await legit?.close();
  await spoofer?.close();
  await hub?.stop();
  await broker?.stop();
});

function deepNest(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** Hostile payloads aimed at `legit`'s topics; the generator needs its key only for "right key, wrong content". */
function hostileArb(): fc.Arbitrary<Hostile> {
  const g = legit;
  const base = () => g.proofPayload(g.seq, g.seq, g.prev);
  const attackerKey = generateSecretKey();
  const signWith = (payload: unknown, typ = METER_PROOF_TYP, kid = g.id, key = g.secretKey) =>
    signJws(typ, kid, payload, key);
  // Every topic the hub subscribes for ingest, from its own list (a new one is covered as added).
  const topic = fc.constantFrom(...INGEST_TOPICS);
  const badSchema = ['schema', 'payload-not-json', 'not-canonical-json', 'typ-mismatch'];
  return fc.oneof<fc.Arbitrary<Hostile>[]>(
    fc.tuple(topic, fc.string()).map(([t, s]) => ({
      kind: 'random text',
      topic: t,
      payload: s,
      reasons: ['malformed', 'header-not-json', 'too-large'],
    })),
    fc.tuple(topic, fc.uint8Array({ maxLength: 4096 })).map(([t, u]) => ({
      kind: 'random bytes',
      topic: t,
      payload: Buffer.from(u),
      reasons: ['malformed', 'header-not-json'],
    })),
    fc.tuple(topic, fc.jsonValue()).map(([t, v]) => ({
      kind: 'bare JSON',
      topic: t,
      payload: JSON.stringify(v) ?? 'null',
      reasons: ['malformed', 'header-not-json'],
    })),
    fc
      .constantFrom(
        { kind: 'huge', payload: 'a'.repeat(70_000), reasons: ['too-large'] },
        {
          kind: 'huge JWS',
          payload: `${'e'.repeat(40_000)}.${'e'.repeat(40_000)}.x`,
          reasons: ['too-large'],
        },
        {
          kind: 'deeply nested',
          payload: deepNest(50_000),
          reasons: ['too-large', 'malformed', 'header-not-json'],
        },
      )
      .map((h) => ({ ...h, topic: 'proof' as const })),
    // Signed with the gateway's own key, but the content is wrong in type or range.
    fc
      .constantFrom<[string, (p: Record<string, unknown>) => void]>(
        ['seq string', (p) => (p.seq = String(p.seq))],
        ['seq negative', (p) => (p.seq = -1)],
        ['seq overflow', (p) => (p.seq = 2 ** 60)],
        ['Wh negative', (p) => (p.importWh = { start: -5, end: -1 })],
        ['Wh overflow', (p) => (p.importWh = { start: 1, end: 1e300 })],
        ['Wh float', (p) => (p.importWh = { start: 1.5, end: 2.25 })],
        ['interval reversed', (p) => (p.interval = { start: 2, end: 1 })],
        ['stale timestamp (before 1970)', (p) => (p.interval = { start: -900_000, end: 0 })],
        ['future timestamp (after 9999)', (p) => (p.signedAt = 1e16)],
        ['odd unicode meter id', (p) => (p.meter = { id: '\u202e\u0000\ud800🙂', serial: 'x'.repeat(5000) })],
        ['unknown field', (p) => (p.extra = { nested: deepNest(10) })],
        ['gw of another gateway', (p) => (p.gw = spoofer.id)],
        [
          'null payload',
          (p) => {
            for (const k of Object.keys(p)) delete p[k];
          },
        ],
      )
      .map(([kind, mutate]) => {
        const p = base() as unknown as Record<string, unknown>;
        mutate(p);
        return {
          kind,
          topic: 'proof' as const,
          payload: signWith(p),
          reasons: [...badSchema, 'gw-mismatch'],
        };
      }),
    fc.constant(null).map(() => ({
      kind: 'wrong typ',
      topic: 'proof' as const,
      payload: signWith(base(), GATEWAY_STATUS_TYP),
      reasons: ['typ-mismatch'],
    })),
    fc.constant(null).map(() => ({
      kind: 'wrong kid',
      topic: 'proof' as const,
      payload: signWith(base(), METER_PROOF_TYP, spoofer.id),
      reasons: ['kid-mismatch'],
    })),
    fc.constant(null).map(() => ({
      kind: 'forged signature',
      topic: 'proof' as const,
      payload: signWith(base(), METER_PROOF_TYP, g.id, attackerKey),
      reasons: ['bad-signature'],
    })),
    fc.nat({ max: 85 }).map((i) => {
      const jws = signWith(base());
      const sig = b64url.decode(jws.split('.')[2] as string);
      sig[i % sig.length] = (sig[i % sig.length] as number) ^ 1;
      return {
        kind: 'flipped signature bit',
        topic: 'proof' as const,
        payload: `${jws.split('.').slice(0, 2).join('.')}.${b64url.encode(sig)}`,
        reasons: ['bad-signature'],
      };
    }),
  );
}

describe('hostile MQTT input', () => {
  it(`${RUNS} generated hostile messages: none accepted, each counted by reason, the hub keeps serving`, async () => {
    const hostile = fc.sample(hostileArb(), { numRuns: RUNS, seed: SEED });
    console.log(`[security] hostile-mqtt seed=${SEED} runs=${RUNS}`);
    const before = { rejected: new Map(hub.stats.rejected), accepted: hub.stats.accepted };
    const legitSent: string[] = [];
    for (const [i, h] of hostile.entries()) {
      await attacker.publishAsync(`wattproof/v1/gw/${legit.id}/${h.topic}`, h.payload, { qos: 1 });
      // The legitimate gateway keeps working in the middle of the flood.
      if (i % 50 === 25) {
        const m = legit.nextProof();
        legitSent.push(m);
        await legit.publishProof(m);
      }
    }
    // Topic spoofing: another enrolled gateway publishes its own, validly signed proof under
    // the legitimate gateway's topic (the open broker lets it through).
    const spoofed = spoofer.nextProof();
    await spoofer.client!.publishAsync(`wattproof/v1/gw/${legit.id}/proof`, spoofed, { qos: 1 });
    // A replay of a proof already in the ledger: the same receipt again, nothing appended.
    const replayed = legitSent[0]!;
    await legit.receiptFor(replayed, 'accepted', 30_000);
    await attacker.publishAsync(`wattproof/v1/gw/${legit.id}/proof`, replayed, { qos: 1 });
    await legit.receiptFor(replayed, 'duplicate', 30_000);
    const after = legit.nextProof();
    await legit.publishProof(after);
    for (const m of [...legitSent, after]) await legit.receiptFor(m, 'accepted', 30_000);

    const delta = () => {
      const d = new Map<string, number>();
      for (const [k, v] of hub.stats.rejected) d.set(k, v - (before.rejected.get(k) ?? 0));
      return d;
    };
    const expectedRejections = hostile.length + 1; // + the spoofed one
    await waitFor(
      'every hostile message counted',
      () => ([...delta().values()].reduce((a, b) => a + b, 0) >= expectedRejections ? true : undefined),
      60_000,
    );
    const counted = delta();
    const total = [...counted.values()].reduce((a, b) => a + b, 0);
    expect(total, JSON.stringify(Object.fromEntries(counted))).toBe(expectedRejections);
    expect(counted.get('internal-error') ?? 0).toBe(0);
    // Only the legitimate proofs were appended, in one unbroken chain.
    expect(hub.stats.accepted - before.accepted).toBe(legitSent.length + 1);
    expect(hub.ledger.gatewayHead(legit.id)?.seq).toBe(legit.seq - 1);
    expect(hub.ledger.gatewayHead(spoofer.id)).toBeUndefined();
    // Each kind counted under one of its reasons: every reason seen is one some kind allows.
    const allowed = new Set(hostile.flatMap((h) => h.reasons).concat(['kid-mismatch', 'topic-unknown']));
    for (const reason of counted.keys())
      if ((counted.get(reason) ?? 0) > 0) expect(allowed, `unexpected reason ${reason}`).toContain(reason);
    for (const r of ['bad-signature', 'kid-mismatch', 'typ-mismatch', 'too-large'])
      expect(counted.get(r) ?? 0, r).toBeGreaterThan(0);
    // The same counters over HTTP.
    const stats = (await (await fetch(`${hub.httpUrl}/v1/stats`)).json()) as Record<string, unknown>;
    expect(JSON.stringify(stats)).toContain('bad-signature');
  }, 240_000);
});
