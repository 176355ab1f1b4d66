// The hub end to end over its embedded broker: enrolment over HTTP, proofs over MQTT, receipts that
// prove themselves, and duplicate, equivocating, gapped and late messages handled as docs/hub.md
// says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../hub/hub.js';
import {
  b64url,
  leafHash,
  messageHashB64,
  openCheckpoint,
  parseNoteVerifierKey,
  signJws,
  utf8,
  verifyInclusion,
  verifyJws,
} from '../protocol/index.js';
import {
  FULFILMENT_TYP,
  GATEWAY_STATUS_TYP,
  type LedgerReceipt,
  parseReceipt,
  signMessage,
} from '../protocol/messages/index.js';
import { OPERATOR_TOKEN, startTestHub, TestGateway, waitFor } from './support/hub-fixtures.js';

let hub: Hub;
const gateways: TestGateway[] = [];

beforeAll(async () => {
  ({ hub } = await startTestHub());
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await hub.stop();
});

async function gateway(): Promise<TestGateway> {
  const g = new TestGateway();
  gateways.push(g);
  await g.enrol(hub.httpUrl);
  await g.connect();
  return g;
}

function checkReceiptProves(r: LedgerReceipt, jws: string, vkey: string): void {
  expect(parseReceipt(r).ok).toBe(true);
  const cp = openCheckpoint(r.checkpoint, [parseNoteVerifierKey(vkey)]);
  if (!cp.ok) throw new Error(cp.reason);
  const lh = leafHash(utf8(jws));
  expect(r.leafHash).toBe(b64url.encode(lh));
  const proof = r.inclusionProof.map((h) => b64url.decode(h));
  expect(verifyInclusion(lh, r.index, cp.checkpoint.size, proof, cp.checkpoint.root)).toBe(true);
}

describe('hub ingest over the embedded broker', () => {
  it('accepts a chain of proofs and answers each with a receipt that proves inclusion', async () => {
    const g = await gateway();
    const sent = [g.nextProof(), g.nextProof(), g.nextProof()];
    for (const jws of sent) await g.publishProof(jws);
    for (const jws of sent) {
      const r = (await g.receiptFor(jws, 'accepted')) as LedgerReceipt;
      checkReceiptProves(r, jws, g.credentials!.hub.logVerifierKey);
    }
    // The hub's retained, signed status names its latest checkpoint.
    const statuses: string[] = [];
    g.client!.on('message', (topic, payload) => {
      if (topic === 'wattproof/v1/hub/status') statuses.push(payload.toString());
    });
    await g.client!.subscribeAsync('wattproof/v1/hub/status', { qos: 1 });
    const status = await waitFor('hub status', () => statuses[statuses.length - 1]);
    const v = verifyJws(status, {
      typ: 'wattproof.hub-status.v1',
      kid: hub.key.hubId,
      publicKeyFor: () => hub.key.publicKey,
    });
    expect(v.ok && (v.payload as { state: string; checkpoint?: string }).state).toBe('online');
    expect(v.ok && (v.payload as { checkpoint?: string }).checkpoint).toMatch(/^wattproof\/hub-/);
    const chain = (await (await fetch(`${hub.httpUrl}/v1/gateways/${g.id}/chain`)).json()) as {
      entries: Array<{ seq: number; leaf: string }>;
    };
    expect(chain.entries.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(chain.entries.map((e) => e.leaf)).toEqual(sent);
  });

  it('answers a duplicate with the same receipt and never appends it twice', async () => {
    const g = await gateway();
    const jws = g.nextProof();
    await g.publishProof(jws);
    const first = (await g.receiptFor(jws, 'accepted')) as LedgerReceipt;
    const size = hub.ledger.size;
    await g.publishProof(jws);
    const again = (await g.receiptFor(jws, 'duplicate')) as LedgerReceipt;
    expect(again.index).toBe(first.index);
    expect(again.leafHash).toBe(first.leafHash);
    expect(hub.ledger.size).toBe(size);
  });

  it('keeps an equivocating message as evidence, raises it, and never appends it', async () => {
    const g = await gateway();
    const genuine = g.nextProof();
    await g.publishProof(genuine);
    const accepted = (await g.receiptFor(genuine, 'accepted')) as LedgerReceipt;
    // Same seq 0, different reading: validly signed, but a second history.
    const forked = g.sign(g.proofPayload(0, 0, null, 9999));
    const before = hub.stats.equivocations;
    await g.publishProof(forked);
    const r = await g.receiptFor(forked, 'rejected');
    expect(r.status === 'rejected' && r.reason).toBe('equivocation');
    expect(hub.stats.equivocations).toBe(before + 1);
    expect(hub.ledger.entryByGatewaySeq(g.id, 0)?.index).toBe(accepted.index);
    const ev = (await (await fetch(`${hub.httpUrl}/v1/equivocations`)).json()) as {
      equivocations: Array<{ gw: string; jws: string; conflictingIndex: number }>;
    };
    expect(ev.equivocations).toContainEqual(
      expect.objectContaining({ gw: g.id, jws: forked, conflictingIndex: accepted.index }),
    );
  });

  it('waits for a missing message, then records the gap with a hub-signed note; the late one still links in', async () => {
    const g = await gateway();
    const m0 = g.nextProof();
    const m1 = g.nextProof();
    const m2 = g.nextProof();
    await g.publishProof(m0);
    await g.receiptFor(m0, 'accepted');
    await g.publishProof(m2); // seq 2 before seq 1
    const r2 = (await g.receiptFor(m2, 'accepted')) as LedgerReceipt; // after gapWaitMs (300 ms)
    const note = hub.ledger.entry(r2.index - 1)!;
    expect(note.typ).toBe('wattproof.gap-note.v1');
    expect(note.kid).toBe(hub.key.hubId);
    expect(JSON.parse(Buffer.from(note.jws.split('.')[1]!, 'base64url').toString())).toMatchObject({
      gw: g.id,
      from: 1,
      to: 1,
    });
    await g.publishProof(m1);
    const r1 = (await g.receiptFor(m1, 'accepted')) as LedgerReceipt;
    expect(r1.index).toBeGreaterThan(r2.index);
    checkReceiptProves(r1, m1, g.credentials!.hub.logVerifierKey);
  });

  it('appends messages that arrive out of order within the wait, in chain order, without a gap note', async () => {
    const g = await gateway();
    const [m0, m1, m2] = [g.nextProof(), g.nextProof(), g.nextProof()];
    await g.publishProof(m0);
    await g.receiptFor(m0, 'accepted');
    const notes = hub.stats.gapNotes;
    await g.publishProof(m2);
    await g.publishProof(m1);
    const r1 = (await g.receiptFor(m1, 'accepted')) as LedgerReceipt;
    const r2 = (await g.receiptFor(m2, 'accepted')) as LedgerReceipt;
    expect(r2.index).toBe(r1.index + 1);
    expect(hub.stats.gapNotes).toBe(notes);
  });

  it('rejects forged, mistyped and malformed messages, counts them by reason, and keeps serving', async () => {
    const g = await gateway();
    const other = new TestGateway(); // not enrolled: its key is not bound to g's id
    const forged = other.sign({ ...g.proofPayload(0), gw: g.id });
    const forgedKid = forged; // kid is other.id: kid-mismatch on g's topic
    await g.publishProof(forgedKid);
    const junk = 'not a jws at all';
    await g.client!.publishAsync(`wattproof/v1/gw/${g.id}/proof`, junk, { qos: 1 });
    await g.client!.publishAsync(`wattproof/v1/gw/${g.id}/proof`, Buffer.from([0xff, 0xfe, 0x00]), {
      qos: 1,
    });
    // A validly signed message with a field the schema does not know.
    const badSchema = signJws(
      'wattproof.meter-proof.v1',
      g.id,
      { ...g.proofPayload(), extra: 1 },
      g.secretKey,
    );
    await g.publishProof(badSchema);
    const rForged = await g.receiptFor(forgedKid, 'rejected');
    const rSchema = await g.receiptFor(badSchema, 'rejected');
    expect(rSchema.status === 'rejected' && rSchema.reason).toBe('schema');
    expect(rForged.status === 'rejected' && rForged.reason).toBe('kid-mismatch');
    await waitFor('malformed counted', () =>
      (hub.stats.rejected.get('malformed') ?? 0) >= 2 ? true : undefined,
    );
    // Still serving: the genuine next message is accepted.
    const good = g.nextProof();
    await g.publishProof(good);
    await g.receiptFor(good, 'accepted');
  });

  it('carries one chain across the proof and event topics, refuses a type on the wrong topic, and tracks signed status', async () => {
    const g = await gateway();
    const proof = g.nextProof();
    await g.publishProof(proof);
    await g.receiptFor(proof, 'accepted');
    const window = g.proofPayload(0).interval;
    const fulfilment = signMessage(
      FULFILMENT_TYP,
      g.id,
      {
        gw: g.id,
        seq: g.seq,
        prev: g.prev,
        contract: `ct-${b64url.encode(new Uint8Array(32).fill(3))}`,
        role: 'seller',
        window,
        contractedWh: 10,
        measuredWh: 10,
        outcome: 'fulfilled',
        proofs: [messageHashB64(proof)],
        signedAt: window.end + 5_000,
      },
      g.secretKey,
    );
    // A meter proof is not an event: refused on the event topic, whatever its signature.
    const misplaced = g.sign(g.proofPayload(1, 1, g.prev));
    await g.client!.publishAsync(`wattproof/v1/gw/${g.id}/event`, misplaced, { qos: 1 });
    const r = await g.receiptFor(misplaced, 'rejected');
    expect(r.status === 'rejected' && r.reason).toBe('typ-mismatch');
    await g.client!.publishAsync(`wattproof/v1/gw/${g.id}/event`, fulfilment, { qos: 1 });
    const accepted = (await g.receiptFor(fulfilment, 'accepted')) as LedgerReceipt;
    expect(accepted.seq).toBe(1);
    expect(hub.ledger.entry(accepted.index)?.typ).toBe(FULFILMENT_TYP);

    const status = signMessage(
      GATEWAY_STATUS_TYP,
      g.id,
      {
        gw: g.id,
        state: 'online',
        version: '0.1.0',
        configHash: b64url.encode(new Uint8Array(32)),
        clockSynchronised: true,
        at: Date.now(),
      },
      g.secretKey,
    );
    await g.client!.publishAsync(`wattproof/v1/gw/${g.id}/status`, status, { qos: 1, retain: true });
    const fleet = await waitFor('the fleet state', async () => {
      const res = await fetch(`${hub.httpUrl}/v1/fleet`, {
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
      });
      const body = (await res.json()) as { gateways: Array<{ gw: string; state: string }> };
      return body.gateways.find((x) => x.gw === g.id);
    });
    expect(fleet.state).toBe('online');
  });
});
