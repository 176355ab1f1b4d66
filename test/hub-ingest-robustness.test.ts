// Bad input never stops the hub: a flood of random and half-valid payloads is rejected and counted
// (one count per message), and the next genuine message is accepted. And the hub's state survives
// a restart: credentials, bindings and chains continue, and a duplicate after the restart gets
// the original receipt.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Hub } from '../hub/hub.js';
import { startTestHub, TestGateway, waitFor } from './support/hub-fixtures.js';

const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

describe('hub ingest robustness', () => {
  it('rejects and counts every one of 300 random or mangled payloads and keeps serving', async () => {
    const { hub } = await startTestHub();
    stops.push(() => hub.stop());
    const g = new TestGateway();
    await g.enrol(hub.httpUrl);
    await g.connect();
    stops.push(() => g.close());
    const genuine = g.sign(g.proofPayload());
    const mangle = fc
      .tuple(fc.nat(), fc.string({ minLength: 0, maxLength: 8 }))
      .map(([at, s]) => {
        const i = at % genuine.length;
        return genuine.slice(0, i) + s + genuine.slice(i + 1);
      })
      .filter((s) => s !== genuine);
    const payloads = fc.sample(
      fc.oneof(
        fc.string(),
        fc.uint8Array({ maxLength: 2048 }).map((u) => Buffer.from(u)),
        fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
        mangle,
        fc.constant(`${genuine}.`),
        fc.constant('a'.repeat(70_000)),
      ),
      { numRuns: 300, seed: 20260101 },
    );
    const before = hub.stats.rejectedTotal();
    for (const p of payloads) await g.client!.publishAsync(`wattproof/v1/gw/${g.id}/proof`, p, { qos: 1 });
    await waitFor('every payload counted', () =>
      hub.stats.rejectedTotal() - before === payloads.length ? true : undefined,
    );
    expect(hub.stats.rejected.get('internal-error')).toBeUndefined();
    expect(hub.ledger.gatewayHead(g.id)).toBeUndefined();
    await g.publishProof(genuine);
    await g.receiptFor(genuine, 'accepted');
  });

  it('continues chains after a restart, and answers a duplicate with the original receipt', async () => {
    const first = await startTestHub();
    const g = new TestGateway();
    await g.enrol(first.hub.httpUrl);
    await g.connect();
    const sent = [g.nextProof(), g.nextProof(), g.nextProof()];
    for (const m of sent) await g.publishProof(m);
    const r1 = await g.receiptFor(sent[1]!, 'accepted');
    await g.receiptFor(sent[2]!, 'accepted');
    await g.close();
    await first.hub.stop();

    const again: Hub = (await startTestHub({ dataDir: first.dir })).hub;
    stops.push(() => again.stop());
    expect(again.key.hubId).toBe(first.hub.key.hubId);
    g.receipts.length = 0;
    await g.connect(again.brokerUrl); // the same credentials, kept hashed in the database
    stops.push(() => g.close());
    await g.publishProof(sent[1]!);
    const dup = await g.receiptFor(sent[1]!, 'duplicate');
    expect(dup.status !== 'rejected' && dup.index).toBe(r1.status !== 'rejected' && r1.index);
    const next = g.nextProof();
    await g.publishProof(next);
    await g.receiptFor(next, 'accepted');
    expect(again.ledger.gatewayHead(g.id)?.seq).toBe(3);
  });
});
