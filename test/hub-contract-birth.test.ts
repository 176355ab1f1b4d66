// A gateway that connects after its contract was activated still gets it: the hub (Hub.start with
// its engine and market, the embedded MQTT broker on a free loopback port) sends an active contract
// to its gateways once at activation, not retained, and again when a gateway's birth (its signed,
// retained online status) arrives. Everything is real: enrolment, the engine's HTTP endpoints, the
// auction, the validator's review, the broker's ACL; the engine's clock is a variable so the gate
// closes when the test says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayBirthOf } from '../hub/engine/contract-delivery.js';
import type { Hub } from '../hub/hub.js';
import { MARKET_MATCH_TYP } from '../hub/markets/messages.js';
import { marketRules } from '../hub/markets/rules.js';
import { b64url, decodeJwsUnverified, sha256 } from '../protocol/index.js';
import { type EnergyOrder, GATEWAY_STATUS_TYP, ORDER_TYP, signMessage } from '../protocol/messages/index.js';
import { type Party, participantApplication, party, postJsonTo } from './support/contract-fixtures.js';
import { OPERATOR_TOKEN, startTestHub, TestGateway, waitFor } from './support/hub-fixtures.js';

const Q = 900_000;
const T0 = Date.UTC(2026, 4, 1, 10, 0);

function status(g: TestGateway, state: 'online' | 'offline', at: number, key = g.secretKey): string {
  return signMessage(
    GATEWAY_STATUS_TYP,
    g.id,
    {
      gw: g.id,
      state,
      version: '1.0.0',
      configHash: b64url.encode(sha256('config')),
      clockSynchronised: true,
      at,
    },
    key,
  );
}

describe('active contracts are sent again at a gateway birth', () => {
  let hub: Hub;
  let now = T0 - 3_600_000;
  const rules = marketRules({ currency: 'EUR' });
  const gwA = new TestGateway();
  const gwB = new TestGateway();
  const seller = party();
  const buyer = party();

  const post = postJsonTo(() => hub.httpUrl);

  beforeAll(async () => {
    ({ hub } = await startTestHub({
      engine: { currency: 'EUR', settlementGraceMs: 60_000, market: rules, clock: () => now, tickMs: 0 },
    }));
    await gwA.enrol(hub.httpUrl);
    await gwB.enrol(hub.httpUrl);
  });
  afterAll(async () => {
    await gwA.close();
    await gwB.close();
    await hub?.stop();
  });

  it('a gateway subscribing after activation gets its contract on its birth', async () => {
    for (const [p, g] of [
      [seller, gwA],
      [buyer, gwB],
    ] as const) {
      const jws = participantApplication(p, { gateways: [g.id], at: now });
      expect((await post('/v1/participants', { jws })).status).toBe(201);
      expect(
        (await post('/v1/credits', { account: p.id, amountMinor: 100, reference: 'bank' }, OPERATOR_TOKEN))
          .status,
      ).toBe(201);
    }
    const engine = hub.engine!;
    await waitFor('both approved', () =>
      [seller, buyer].every((p) => engine.ledgerState.registry.participants[p.id]?.status === 'approved')
        ? true
        : undefined,
    );
    const order = (p: Party, g: TestGateway, side: 'offer' | 'bid', limit: number) => {
      const o: EnergyOrder = {
        product: 'energy',
        participant: p.id,
        side,
        region: 'north',
        currency: 'EUR',
        settlementPeriodMs: Q,
        window: { start: T0, end: T0 + Q },
        deliveryPoints: [{ gw: g.id, meter: 'grid' }],
        expires: T0,
        nonce: `YmlydGgtdGVzdC1ub25jZS0${side}`,
        createdAt: now,
        energy: 'electricity',
        quantityWh: 500,
        limitMinorPerKWh: limit,
      };
      return signMessage(ORDER_TYP, p.id, o, p.secretKey);
    };
    expect((await post('/v1/orders', { jws: order(seller, gwA, 'offer', 10) })).status).toBe(201);
    expect((await post('/v1/orders', { jws: order(buyer, gwB, 'bid', 30) })).status).toBe(201);

    // The gate closes: auction, review and activation in one tick; the contract goes out to two
    // gateways nobody listens for yet (not retained: lost).
    now = T0 - rules.gateClosureLeadMs;
    engine.tick();
    const active = await waitFor('an active market contract', () =>
      Object.values(engine.ledgerState.contracts).find((r) => r.status === 'active'),
    );

    // Gateway A connects now and subscribes; its birth brings the contract (a forged birth sends
    // nothing: gatewayBirthOf, below).
    const client = await gwA.connect(hub.brokerUrl);
    const got: string[] = [];
    client.on('message', (topic, payload) => {
      if (topic.endsWith('/cmd/contract')) got.push(payload.toString('utf8'));
    });
    await client.subscribeAsync(`wattproof/v1/gw/${gwA.id}/cmd/contract`, { qos: 1 });
    const statusTopic = `wattproof/v1/gw/${gwA.id}/status`;
    await client.publishAsync(statusTopic, status(gwA, 'online', Date.now() + 1), { qos: 1, retain: true });
    const text = await waitFor('the contract on birth', () => got[0]);
    const general = JSON.parse(text) as {
      payload: string;
      signatures: { protected: string; signature: string }[];
    };
    expect(general.signatures).toHaveLength(1);
    const d = decodeJwsUnverified(
      `${general.signatures[0]?.protected}.${general.payload}.${general.signatures[0]?.signature}`,
    );
    expect(d?.header).toMatchObject({ typ: MARKET_MATCH_TYP, kid: hub.key.hubId });
    expect((d?.payload as { contractId?: string } | undefined)?.contractId).toBe(active.id);
    // Each later birth (a reconnect) brings it again.
    await client.publishAsync(statusTopic, status(gwA, 'online', Date.now() + 2), { qos: 1, retain: true });
    expect(await waitFor('the contract on the next birth', () => got[1])).toBe(text);
  });

  it('gatewayBirthOf takes only an online status signed by the bound key, on its own topic', () => {
    const keyOf = (gw: string) => (gw === gwA.id ? gwA.publicKey : undefined);
    const topic = `wattproof/v1/gw/${gwA.id}/status`;
    const utf = (s: string) => new TextEncoder().encode(s);
    expect(gatewayBirthOf(topic, utf(status(gwA, 'online', 5)), keyOf)).toEqual({ gw: gwA.id, at: 5 });
    expect(gatewayBirthOf(topic, utf(status(gwA, 'offline', 5)), keyOf)).toBeUndefined();
    expect(gatewayBirthOf(topic, utf(status(gwA, 'online', 5, gwB.secretKey)), keyOf)).toBeUndefined();
    expect(
      gatewayBirthOf(`wattproof/v1/gw/${gwB.id}/status`, utf(status(gwB, 'online', 5)), keyOf),
    ).toBeUndefined();
    expect(
      gatewayBirthOf(`wattproof/v1/gw/${gwA.id}/proof`, utf(status(gwA, 'online', 5)), keyOf),
    ).toBeUndefined();
    expect(gatewayBirthOf(topic, utf('not a jws'), keyOf)).toBeUndefined();
  });
});
