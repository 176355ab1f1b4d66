// Contracts end to end with every part real: a Mosquitto on a free port, the hub (Hub.start: ingest,
// ledger, receipts, checkpoints, enrolment API) with the engine composed beside it from exported
// parts (as hub.ts will wire it, see docs/hub.md), two real agents (`wattproof-agent run`, built)
// reading simulated SunSpec grid meters over Modbus TCP, and the validator service signing reviews.
// Time runs accelerated (one settlement minute every 2 s); the agents, the simulators and the
// engine's clock share one timeline.
//
// The simulated meters' counters step once per minute, 45 virtual seconds into the minute, by an
// amount this test chooses per minute. A boundary reading taken up to 45 s late therefore reads the
// same counter as one taken on the boundary, and each one-minute proof holds exactly the chosen
// energy: the balances below are computed by hand from those numbers.
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultSwitches } from '../device-drivers/sim/faults.js';
import { SimUnits } from '../device-drivers/sim/modbus-handler.js';
import { RegisterBank } from '../device-drivers/sim/register-bank.js';
import { SimTcpServer } from '../device-drivers/sim/tcp-server.js';
import { SunSpecImage } from '../device-drivers/sunspec/image.js';
import { foldLog, type LogEntry, logEntryFromJws, stateHash } from '../hub/contracts/fold.js';
import { Engine } from '../hub/engine/engine.js';
import type { Hub } from '../hub/hub.js';
import { b64url, generateSecretKey, messageHashB64 } from '../protocol/index.js';
import {
  type EnergyContract,
  FULFILMENT_TYP,
  METER_PROOF_TYP,
  SETTLEMENT_TYP,
  signMessage,
} from '../protocol/messages/index.js';
import { waitFor } from './support/agent-cli.js';
import type { Gateway } from './support/agent-harness.js';
import { party, signBothParties } from './support/contract-fixtures.js';
import {
  enrolAndWaitOnline,
  fundAndApprove,
  gridGateway,
  type HubWithEngine,
  householdValidator,
  startHubWithEngine,
} from './support/e2e-fixtures.js';

const SCALE = 30; // one virtual minute every 2 real seconds
const M = 60_000;
const BASE = 40000;

/** A home with one SunSpec grid meter (1 + 203) at unit 1 whose counters step as `perMinute` says. */
async function startMeteredHome(
  virtualNow: () => number,
  perMinute: (minuteStart: number) => { importWh: number; exportWh: number },
) {
  // Σ over the minutes whose step (at +45 s) has passed since `from`.
  const from = Math.floor(virtualNow() / M) * M - 10 * M;
  const counters = (v: number) => {
    let importWh = 1_000_000;
    let exportWh = 500_000;
    for (let m = from; m + 45_000 <= v; m += M) {
      const e = perMinute(m);
      importWh += e.importWh;
      exportWh += e.exportWh;
    }
    return { importWh, exportWh };
  };
  const image = new SunSpecImage(BASE, [{ id: 1 }, { id: 203 }]);
  image.set('1.Mn', 'Wattproof Sim');
  image.set('1.Md', 'Grid Meter 203');
  image.set('1.SN', `GRID-${Math.floor(Math.random() * 1e6)}`);
  image.set('203.TotWh_SF', 0);
  image.set('203.W_SF', 0);
  const bank = new RegisterBank();
  const units = new SimUnits();
  units.add(1, {
    bank,
    faults: new FaultSwitches(),
    refresh() {
      const c = counters(virtualNow());
      image.set('203.TotWhImp', c.importWh);
      image.set('203.TotWhExp', c.exportWh);
      image.set('203.W', 0);
      bank.set('holding', BASE, image.registers);
    },
  });
  const server = new SimTcpServer(units, { port: 0 });
  const { port } = await server.listen();
  return { port, close: () => server.close() };
}

describe('contracts end to end: simulated homes, real Mosquitto, real agents, the hub and its engine', () => {
  const origin = Date.now();
  const virtualNow = () => Math.floor(origin + (Date.now() - origin) * SCALE);
  // The three windows, two one-minute intervals each, start 4 virtual minutes (8 s) from now:
  // time enough to enrol, register, fund, sign, review and activate before delivery starts.
  const W0 = Math.ceil(virtualNow() / M) * M + 4 * M;
  const C1 = { start: W0, end: W0 + 2 * M }; // fulfilled
  const C2 = { start: W0 + 2 * M, end: W0 + 4 * M }; // partly fulfilled
  const C3 = { start: W0 + 4 * M, end: W0 + 6 * M }; // failed
  // Seller's home A exports 60 Wh in each minute of C1, 60 then 20 in C2, nothing in C3 (30 outside).
  const sellerExport = (m: number) => {
    if (m >= C1.start && m < C1.end) return 60;
    if (m === C2.start) return 60;
    if (m === C2.start + M) return 20;
    if (m >= C3.start && m < C3.end) return 0;
    return 30;
  };
  let world: HubWithEngine;
  let hub: Hub;
  let engine: Engine;
  let gwA: Gateway;
  let gwB: Gateway;
  const seller = party();
  const buyer = party();

  beforeAll(async () => {
    world = await startHubWithEngine({
      clock: virtualNow,
      reviewer: householdValidator('e2e', { electricity: { maxCapacityW: 20_000, capMinorPerKWh: 1000 } }),
      watcherId: 'e2e-watcher',
      watch: ['wattproof/v1/gw/+/cmd/#', 'wattproof/v1/gw/+/status'],
    });
    ({ hub, engine } = world);
    const homeA = await startMeteredHome(virtualNow, (m) => ({ importWh: 5, exportWh: sellerExport(m) }));
    world.defer(() => homeA.close());
    const homeB = await startMeteredHome(virtualNow, () => ({ importWh: 100, exportWh: 0 }));
    world.defer(() => homeB.close());
    gwA = gridGateway(world, homeA.port, { scale: SCALE, origin });
    gwB = gridGateway(world, homeB.port, { scale: SCALE, origin });
  }, 60_000);

  afterAll(() => world?.stop());

  const getJson = async (path: string) =>
    (await (await fetch(`${world.httpUrl}${path}`)).json()) as Record<string, unknown>;

  it('three contracts (fulfilled, partly fulfilled, failed) settle from the meters to the balances computed by hand; exactly once; re-folding the log alone gives the same state', async () => {
    // 1. Enrol both gateways (binding entries in the ledger), start the agents with a synchronised clock.
    // A gateway runs long before it trades; here the agents have just been spawned, so wait until
    // both are online before any contract can be activated (contracts are commands, not retained).
    await enrolAndWaitOnline(world, [gwA, gwB], 15_000);

    // 2. Both households apply (self-signed), the validator approves, the operator credits 100 each.
    await fundAndApprove(
      world,
      [
        { party: seller, gateways: [gwA.identity.gatewayId] },
        { party: buyer, gateways: [gwB.identity.gatewayId] },
      ],
      { amountMinor: 100, clock: virtualNow },
    );

    // 3. Three contracts, signed by both, over the three windows: 50 Wh per interval at 200 minor/kWh,
    // penalty 100 minor/kWh, deposits seller 10 (covers a full shortfall: ceil(100 × 100 / 1000))
    // and buyer 20 (covers full delivery: ceil(100 × 200 / 1000)).
    const ids: string[] = [];
    for (const [i, window] of [C1, C2, C3].entries()) {
      const contract: EnergyContract = {
        product: 'energy',
        seller: seller.id,
        buyer: buyer.id,
        energy: 'electricity',
        settlementPeriodMs: M,
        window,
        currency: 'EUR',
        deliveryPoints: {
          seller: [{ gw: gwA.identity.gatewayId, meter: 'grid' }],
          buyer: [{ gw: gwB.identity.gatewayId, meter: 'grid' }],
        },
        deposits: { seller: 10, buyer: 20 },
        disputeWindowMs: M,
        region: 'north',
        nonce: `ZTJlLWNvbnRyYWN0LT${i}`,
        createdAt: virtualNow(),
        quantity: { wh: 50, per: 'interval' },
        priceMinorPerKWh: 200,
        penaltyMinorPerKWh: 100,
      };
      const r = await world.post('/v1/contracts', signBothParties(contract, seller, buyer));
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      ids.push(r.body.contract as string);
    }
    const [id1, id2, id3] = ids as [string, string, string];
    await waitFor(
      () => ids.every((id) => engine.ledgerState.contracts[id]?.status === 'active'),
      `three contracts active (${JSON.stringify(ids.map((id) => engine.ledgerState.contracts[id]?.review))})`,
      10_000,
    );
    expect(virtualNow()).toBeLessThan(W0);
    // Activation escrowed 3 × 10 of the seller's and 3 × 20 of the buyer's money.
    expect(engine.ledgerState.money.accounts[seller.id]).toEqual({ available: 70, escrow: 30 });
    expect(engine.ledgerState.money.accounts[buyer.id]).toEqual({ available: 40, escrow: 60 });
    // Each active contract went to both delivery-point gateways as the JWS JSON both parties signed.
    await waitFor(
      () => world.received.filter((m) => m.topic.endsWith('/cmd/contract')).length >= 6,
      'contracts sent',
      5_000,
    );
    for (const id of ids) {
      const signed = engine.signedContractOf(engine.ledgerState.contracts[id] as never);
      for (const gw of [gwA, gwB])
        expect(
          world.received.some(
            (m) =>
              m.topic === `wattproof/v1/gw/${gw.identity.gatewayId}/cmd/contract` &&
              m.payload === JSON.stringify(signed),
          ),
        ).toBe(true);
    }

    // 4. The meters decide. Settlement runs at window end + 2 virtual minutes of grace.
    await waitFor(
      () =>
        ids.every(
          (id) =>
            engine.ledgerState.contracts[id]?.status === 'settled' ||
            engine.ledgerState.contracts[id]?.status === 'closed',
        ),
      'all three contracts settled',
      60_000,
      100,
    );
    const s = (id: string) => engine.ledgerState.contracts[id]?.settlement?.payload;
    // C1: per interval min(seller 60, buyer 100) = 60, capped at 50 → delivered 100 of 100 Wh.
    //     payment floor(100 × 200 / 1000) = 20; penalty 0; released seller 10, buyer 20 − 20 = 0.
    expect(s(id1)).toMatchObject({
      outcome: 'fulfilled',
      contractedWh: 100,
      deliveredWh: 100,
      shortfallWh: 0,
      paymentMinor: 20,
      penaltyMinor: 0,
      released: { seller: 10, buyer: 0 },
    });
    // C2: min(60,100) → 50, then min(20,100) = 20 → delivered 70 of 100, shortfall 30.
    //     payment floor(70 × 200 / 1000) = 14; penalty min(floor(30 × 100 / 1000), 10) = 3;
    //     released seller 10 − 3 = 7, buyer 20 − 14 = 6.
    expect(s(id2)).toMatchObject({
      outcome: 'partial',
      sellerExportWh: 80,
      deliveredWh: 70,
      shortfallWh: 30,
      paymentMinor: 14,
      penaltyMinor: 3,
      released: { seller: 7, buyer: 6 },
    });
    // C3: the seller exported nothing → delivered 0, shortfall 100; payment 0;
    //     penalty min(floor(100 × 100 / 1000), 10) = 10; released seller 0, buyer 20.
    expect(s(id3)).toMatchObject({
      outcome: 'failed',
      sellerExportWh: 0,
      deliveredWh: 0,
      shortfallWh: 100,
      paymentMinor: 0,
      penaltyMinor: 10,
      released: { seller: 0, buyer: 20 },
    });
    // Seller: 70 + (20 + 10) + (14 + 7) + (0 + 0) = 121.  Buyer: 40 + (0) + (6 + 3) + (20 + 10) = 79.
    // 121 + 79 = 200 = the two credits.
    expect(engine.ledgerState.money.accounts[seller.id]).toEqual({ available: 121, escrow: 0 });
    expect(engine.ledgerState.money.accounts[buyer.id]).toEqual({ available: 79, escrow: 0 });
    expect(await getJson(`/v1/accounts/${seller.id}`)).toMatchObject({ available: 121, escrow: 0 });
    // Proofs the settlements rest on were signed by the agents from the simulated meters.
    for (const id of ids) expect(engine.ledgerState.contracts[id]?.proofs.length).toBeGreaterThanOrEqual(4);

    // 5. The agents' fulfilment events, when the agent has the contract watcher wired into `run`.
    const agentWired = /ContractWatcher/.test(
      readFileSync(new URL('../agent/agent.ts', import.meta.url), 'utf8'),
    );
    const events = () => hub.ledger.range(0, hub.ledger.size).filter((e) => e.typ === FULFILMENT_TYP);
    if (agentWired) {
      await waitFor(() => events().length >= 6, 'six fulfilment events (3 contracts × 2 sides)', 20_000);
      for (const id of ids)
        for (const f of engine.ledgerState.contracts[id]?.fulfilments ?? [])
          expect(f.verdict).toBe('consistent');
    } else {
      // Not wired yet (agent/agent.ts has no ContractWatcher): the hub settled from proofs alone.
      expect(events()).toHaveLength(0);
    }

    // 6. Settling twice: the engine never plans a second settlement, and a second hub-signed
    // settlement entry is refused by the fold and moves nothing.
    engine.tick();
    expect(hub.ledger.range(0, hub.ledger.size).filter((e) => e.typ === SETTLEMENT_TYP)).toHaveLength(3);
    const second = signMessage(
      SETTLEMENT_TYP,
      hub.key.hubId,
      { ...(s(id2) as object), at: virtualNow() } as never,
      hub.key.secretKey,
    );
    hub.ledger.append([
      { jws: second, typ: SETTLEMENT_TYP, kid: hub.key.hubId, gw: null, seq: null, receivedMs: Date.now() },
    ]);
    engine.onAppended();
    await waitFor(
      () => engine.ledgerState.notices.some((n) => n.code === 'already-settled' && n.contract === id2),
      'second settlement refused',
      5_000,
    );
    expect(engine.ledgerState.money.accounts[seller.id]).toEqual({ available: 121, escrow: 0 });

    // 7. A replayed fulfilment event: stop gateway A's agent, then sign an event on its chain (its
    // key is in its state dir) claiming more than the proofs show, and send it twice over MQTT.
    world.agents[0]?.child.kill('SIGTERM');
    await world.agents[0]?.exited;
    await hub.settle();
    const head = hub.ledger.gatewayHead(gwA.identity.gatewayId);
    if (!head || head.seq === null) throw new Error('gateway A has no chain');
    const c2proofs = (engine.ledgerState.contracts[id2]?.proofs ?? []).filter(
      (p) => p.gw === gwA.identity.gatewayId,
    );
    const event = signMessage(
      FULFILMENT_TYP,
      gwA.identity.gatewayId,
      {
        gw: gwA.identity.gatewayId,
        seq: head.seq + 1,
        prev: b64url.encode(head.messageHash),
        contract: id2,
        role: 'seller',
        window: C2,
        contractedWh: 100,
        measuredWh: 100,
        outcome: 'fulfilled',
        proofs: c2proofs.map((p) => p.hash),
        signedAt: virtualNow(),
      },
      gwA.identity.secretKey,
    );
    const sender = await mqtt.connectAsync(world.broker.url, {
      protocolVersion: 4,
      clientId: 'e2e-replayer',
    });
    world.defer(() => sender.endAsync(true));
    const topic = `wattproof/v1/gw/${gwA.identity.gatewayId}/event`;
    await sender.publishAsync(topic, event, { qos: 1 });
    await sender.publishAsync(topic, event, { qos: 1 });
    // A forged event (another key) is refused by ingest and never reaches the log.
    const forged = signMessage(
      FULFILMENT_TYP,
      gwA.identity.gatewayId,
      {
        ...(JSON.parse(Buffer.from(event.split('.')[1] as string, 'base64url').toString()) as object),
        seq: head.seq + 2,
        prev: messageHashB64(event),
      } as never,
      generateSecretKey(),
    );
    await sender.publishAsync(topic, forged, { qos: 1 });
    // Wired, the agent's own seller event came first: the replay folds as a refused duplicate.
    await waitFor(
      () =>
        agentWired
          ? engine.ledgerState.notices.some((n) => n.code === 'duplicate-fulfilment' && n.contract === id2)
          : (engine.ledgerState.contracts[id2]?.fulfilments.length ?? 0) >= 1,
      'the event folded',
      10_000,
    );
    await hub.settle();
    const inLog = events().filter(
      (e) => e.kid === gwA.identity.gatewayId && messageHashB64(e.jws) === messageHashB64(event),
    );
    // Ingest checks the signature and the chain (a valid next link), so the event is logged once,
    // however often it is sent; when wired the agent's own event stands first and this one moves
    // nothing (refused as a duplicate above).
    expect(inLog).toHaveLength(1);
    if (agentWired) {
      const fs = engine.ledgerState.contracts[id2]?.fulfilments ?? [];
      expect(fs.map((f) => f.role).sort()).toEqual(['buyer', 'seller']);
      expect(fs.every((f) => f.verdict === 'consistent')).toBe(true);
    }
    expect(events().some((e) => messageHashB64(e.jws) === messageHashB64(forged))).toBe(false);
    if (!agentWired) {
      const rec = engine.ledgerState.contracts[id2];
      expect(rec?.fulfilments[0]).toMatchObject({ verdict: 'contradicted', late: true });
      expect(
        engine.ledgerState.notices.some((n) => n.code === 'fulfilment-contradicted' && n.contract === id2),
      ).toBe(true);
    }
    // An event never moves money.
    expect(engine.ledgerState.money.accounts[seller.id]).toEqual({ available: 121, escrow: 0 });
    expect(engine.ledgerState.money.accounts[buyer.id]).toEqual({ available: 79, escrow: 0 });

    // 8. Closing after the dispute window (1 virtual minute after settlement).
    await waitFor(
      () => ids.every((id) => engine.ledgerState.contracts[id]?.status === 'closed'),
      'contracts closed',
      20_000,
    );

    // 9. Delete the state: a new engine (empty state) on the ledger alone, and a plain foldLog of
    // the log, give the same state, byte for byte, and append nothing.
    world.agents[1]?.child.kill('SIGTERM');
    await world.agents[1]?.exited;
    await hub.settle();
    engine.stop();
    const size = hub.ledger.size;
    const fresh = new Engine({
      ledger: hub.ledger,
      hubKey: hub.key,
      config: {
        currency: 'EUR',
        settlementGraceMs: 2 * M,
        tickMs: 0,
        validatorKids: engine.foldConfig.validatorKids,
      },
      clock: virtualNow,
      publish: () => {},
      log: pino({ level: 'silent' }),
    });
    fresh.start();
    fresh.stop();
    expect(hub.ledger.size).toBe(size);
    expect(stateHash(fresh.ledgerState)).toBe(stateHash(engine.ledgerState));
    const entries: LogEntry[] = [];
    for (let i = 0; i < size; i += 1000)
      for (const e of hub.ledger.range(i, Math.min(size, i + 1000)))
        entries.push(logEntryFromJws(e.index, e.jws) as LogEntry);
    const refolded = foldLog(entries, engine.foldConfig);
    expect(stateHash(refolded)).toBe(stateHash(engine.ledgerState));
    expect(refolded.money.accounts[seller.id]).toEqual({ available: 121, escrow: 0 });
    expect(refolded.money.accounts[buyer.id]).toEqual({ available: 79, escrow: 0 });
    expect(ids.map((id) => refolded.contracts[id]?.settlement?.payload.outcome)).toEqual([
      'fulfilled',
      'partial',
      'failed',
    ]);
    expect(hub.ledger.range(0, size).filter((e) => e.typ === METER_PROOF_TYP).length).toBeGreaterThan(12);
  }, 150_000);
});
