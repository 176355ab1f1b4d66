// A dispatch round trip with every part real: a Mosquitto on a free port, the hub
// (Hub.start: ingest, ledger, receipts) with the engine composed beside it and its HTTP routes
// (POST /v1/dispatch among them), a simulated home on Modbus TCP (a SunSpec battery taking model
// 124 setpoints, the battery's AC meter, a grid meter), and two real agents (`wattproof-agent run`,
// built): gateway A meters the battery and may write to it (dispatch.enabled: true), gateway B
// meters the grid and has writes off (the default). Time runs accelerated (one settlement minute
// every 2 s); the agents, the simulator and the engine share one timeline.
//
// The validator is the hub's reviewer without a policy file (SimpleReviewer): its contract rules
// review the flexibility contract (the seller's capacity, deposits on the most energy that can be
// called for) and approve it, signed with the validator key.
//
// The home's load is at least 2500 W, so the battery — covering the load by itself, or following
// a 2000 W dispatch — discharges at least 2000 W around the window, and the grid never exports:
// the delivered response is the called energy, and the settlement is computed by hand below.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity, type GatewayIdentity } from '../agent/identity.js';
import { Simulator } from '../device-drivers/sim/simulator.js';
import { BatteryAcMeter } from '../device-drivers/sim/storage-control.js';
import type { Engine } from '../hub/engine/engine.js';
import { SimpleReviewer } from '../hub/engine/reviewer.js';
import type { Hub } from '../hub/hub.js';
import { b64url, decodeJwsUnverified, generateSecretKey, publicKeyOf, signJws } from '../protocol/index.js';
import {
  DISPATCH_COMMAND_TYP,
  DISPATCH_RESPONSE_TYP,
  type DispatchResponse,
  type FlexibilityContract,
  SETTLEMENT_TYP,
  type SettlementPayload,
  signMessage,
} from '../protocol/messages/index.js';
import { topics } from '../protocol/topics.js';
import { waitFor } from './support/agent-cli.js';
import { startAgentRun } from './support/agent-harness.js';
import { party, signBothParties } from './support/contract-fixtures.js';
import {
  enrolAndWaitOnline,
  enrolGateway,
  fundAndApprove,
  type HubWithEngine,
  startHubWithEngine,
} from './support/e2e-fixtures.js';
import { OPERATOR_TOKEN } from './support/hub-fixtures.js';

const SCALE = 30; // one virtual minute every 2 real seconds
const M = 60_000;

interface AgentGateway {
  identity: GatewayIdentity;
  configFile: string;
  syncFile: string;
  stateDir: string;
  start(): ReturnType<typeof startAgentRun>;
}

function setUpAgent(o: {
  brokerUrl: string;
  simPort: number;
  device: { name: string; unit: number; role: string };
  dispatch: string;
  hub: Hub;
  time: { scale: number; origin: number };
}): AgentGateway {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-dispatch-e2e-'));
  const stateDir = path.join(dir, 'state');
  const syncFile = path.join(dir, 'clock-synchronised');
  const configFile = path.join(dir, 'agent.yaml');
  const tcp = `{type: tcp, host: 127.0.0.1, port: ${o.simPort}, timeoutMs: 500}`;
  writeFileSync(
    configFile,
    [
      `gateway: {stateDir: ${stateDir}, settlementMinutes: 1, lateReadingSeconds: 30}`,
      `hub: {url: '${o.brokerUrl}', protocolVersion: 5, reconnectMinMs: 100, reconnectMaxMs: 500, maxInFlight: 8, receiptTimeoutSeconds: 3}`,
      'devices:',
      `  - {name: ${o.device.name}, transport: ${tcp}, unit: ${o.device.unit}, kind: sunspec, role: ${o.device.role}, pollSeconds: 5}`,
      `clock: {syncCheck: file, syncFile: ${syncFile}, checkSeconds: 5}`,
      'telemetry: {intervalSeconds: 10, bufferSize: 100}',
      'logging: {level: info, format: json}',
      o.dispatch.replaceAll('$TCP', tcp),
      '',
    ].join('\n'),
  );
  const identity = createIdentity(stateDir);
  // What `wattproof-agent enroll` keeps from the hub's answer: its id and signing key.
  writeFileSync(
    path.join(stateDir, 'mqtt-credentials.json'),
    JSON.stringify({ hubId: o.hub.key.hubId, hubPublicKey: b64url.encode(o.hub.key.publicKey) }),
    { mode: 0o600 },
  );
  return {
    identity,
    configFile,
    syncFile,
    stateDir,
    start: () => startAgentRun(configFile, o.time.scale, o.time.origin),
  };
}

describe('dispatch end to end: the hub dispatches, the simulated battery follows, the response is ledgered and paid', () => {
  const origin = Date.now();
  const virtualNow = () => Math.floor(origin + (Date.now() - origin) * SCALE);
  let world: HubWithEngine;
  let hub: Hub;
  let engine: Engine;
  let sim: Simulator;
  let gwA: AgentGateway;
  let gwB: AgentGateway;
  const gwC = { publicKey: publicKeyOf(generateSecretKey()) };
  let gwCId = '';
  const seller = party();
  const buyer = party();

  beforeAll(async () => {
    world = await startHubWithEngine({
      clock: virtualNow,
      reviewer: (key) => new SimpleReviewer(key, 'EUR'),
      watcherId: 'dispatch-e2e-watcher',
      watch: ['wattproof/v1/gw/+/cmd/#', 'wattproof/v1/gw/+/status'],
    });
    ({ hub, engine } = world);
    const time = { scale: SCALE, origin };
    // The home: a grid meter (unit 1), the battery with its model 124 controls (unit 3), and the
    // battery's AC meter (unit 4), on one Modbus TCP server, on the shared timeline.
    sim = await Simulator.start({
      units: [
        { unit: 1, kind: 'sunspec-meter' },
        { unit: 3, kind: 'sunspec-battery' },
      ],
      tcp: { host: '127.0.0.1', port: 0 },
      clock: { now: virtualNow },
      home: { startMs: virtualNow(), pvPeakW: 0, baseLoadW: 2500, socStart: 0.6, seed: 5 },
    });
    world.defer(() => sim.close());
    sim.units.add(4, new BatteryAcMeter(sim.home, sim.clock, 4));
    const simPort = sim.tcpPort ?? 0;
    gwA = setUpAgent({
      brokerUrl: world.broker.url,
      simPort,
      device: { name: 'battery', unit: 4, role: 'battery' },
      dispatch:
        'dispatch: {enabled: true, battery: {transport: $TCP, unit: 3}, maxDischargeW: 4000, maxChargeW: 4000, measureAfterSeconds: 3}',
      hub,
      time,
    });
    gwB = setUpAgent({
      brokerUrl: world.broker.url,
      simPort,
      device: { name: 'grid', unit: 1, role: 'grid' },
      dispatch: '',
      hub,
      time,
    });
  }, 60_000);

  afterAll(() => world?.stop());

  const post = (p: string, body: unknown, token?: string) => world.post(p, body, token);
  const responses = () =>
    hub.ledger
      .range(0, hub.ledger.size)
      .filter((e) => e.typ === DISPATCH_RESPONSE_TYP)
      .map((e) => ({ gw: e.gw, r: decodeJwsUnverified(e.jws)?.payload as DispatchResponse }));

  it('the battery follows the dispatched setpoint, the signed response measures it, settlement pays it; forged, expired and writes-off commands are refused with reasons', async () => {
    // 1. Enrol the three gateways (A and B run agents; C is the buyer's, metering nothing here).
    gwCId = await enrolGateway(hub.httpUrl, gwC.publicKey);
    await enrolAndWaitOnline(world, [gwA, gwB], 30_000);

    // 2. The seller (gateways A and B) and the buyer (gateway C) register; the operator credits both.
    await fundAndApprove(
      world,
      [
        { party: seller, gateways: [gwA.identity.gatewayId, gwB.identity.gatewayId].sort() },
        { party: buyer, gateways: [gwCId] },
      ],
      { amountMinor: 1000, clock: virtualNow },
    );

    // A two-minute window starting 4 to 5 virtual minutes (8 to 10 s) from now: time to sign,
    // review, activate and send the contract, and to send the dispatch commands, before it starts.
    const W0 = Math.ceil(virtualNow() / M) * M + 4 * M;
    const WINDOW = { start: W0, end: W0 + 2 * M };

    // 3. The flexibility contract: up to 3000 W either way over the window, availability 100,
    //    response 1000 minor/kWh, penalty 2000 minor/kWh; both seller gateways are delivery points.
    const contract: FlexibilityContract = {
      product: 'flexibility',
      seller: seller.id,
      buyer: buyer.id,
      energy: 'electricity',
      settlementPeriodMs: M,
      window: WINDOW,
      currency: 'EUR',
      deliveryPoints: {
        seller: [
          { gw: gwA.identity.gatewayId, meter: 'battery' },
          { gw: gwB.identity.gatewayId, meter: 'grid' },
        ],
        buyer: [{ gw: gwCId, meter: 'grid' }],
      },
      deposits: { seller: 300, buyer: 300 },
      disputeWindowMs: M,
      region: 'north',
      nonce: 'ZGlzcGF0Y2gtZTJlLWZsZXgtMQ',
      createdAt: virtualNow(),
      maxDischargeW: 3000,
      maxChargeW: 3000,
      availabilityMinor: 100,
      responseMinorPerKWh: 1000,
      penaltyMinorPerKWh: 2000,
    };
    const posted = await post('/v1/contracts', signBothParties(contract, seller, buyer));
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    const id = posted.body.contract as string;
    await waitFor(
      () => engine.ledgerState.contracts[id]?.status === 'active',
      'the contract active',
      10_000,
    ).catch((err) => {
      const rec = engine.ledgerState.contracts[id];
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify({ status: rec?.status, review: rec?.review, now: virtualNow(), W0, money: engine.ledgerState.money.accounts, gws: engine.ledgerState.registry.gateways, parts: engine.ledgerState.registry.participants, notices: engine.ledgerState.notices.slice(-5) })}`,
      );
    });
    // The validator's contract rules approved it, with no reasons.
    expect(engine.ledgerState.contracts[id]?.review).toMatchObject({ outcome: 'approved', reasons: [] });
    // Both seller agents keep it for dispatch (it came on their cmd/contract topic).
    await waitFor(
      () => world.agents.every((a) => a.output().includes('flexibility contract kept for dispatch')),
      'both agents holding the contract',
      10_000,
    );
    expect(virtualNow()).toBeLessThan(W0);

    // 4. The operator dispatches gateway A: 2000 W discharge over the whole window (valid until
    //    30 virtual seconds after it starts), and gateway B (writes off): 1000 W in the second minute.
    const untilStart = W0 - virtualNow() + 30_000;
    const toA = await post(
      '/v1/dispatch',
      {
        contract: id,
        gw: gwA.identity.gatewayId,
        setpointW: 2000,
        start: W0,
        end: W0 + 2 * M,
        expiresInMs: untilStart,
      },
      OPERATOR_TOKEN,
    );
    expect(toA.status, JSON.stringify(toA.body)).toBe(201);
    const toB = await post(
      '/v1/dispatch',
      { contract: id, gw: gwB.identity.gatewayId, setpointW: 1000, start: W0 + M, end: W0 + 2 * M },
      OPERATOR_TOKEN,
    );
    expect(toB.status, JSON.stringify(toB.body)).toBe(201);
    // Without the operator token, or above the contract's power: nothing is signed.
    expect((await post('/v1/dispatch', { contract: id, setpointW: 2000, end: W0 + M })).status).toBe(401);
    const tooMuch = await post(
      '/v1/dispatch',
      { contract: id, setpointW: 3500, start: W0, end: W0 + M },
      OPERATOR_TOKEN,
    );
    expect([tooMuch.status, tooMuch.body.error]).toEqual([422, 'above-max-power']);

    // A forged command (the hub's kid, another key) and an expired one (the hub's key), published
    // straight onto A's command topic by a client with the hub's broker login.
    const forgedCmd = {
      contract: id,
      gw: gwA.identity.gatewayId,
      setpointW: -3000,
      start: W0,
      end: W0 + M,
      expires: W0 + 30_000,
      nonce: 'Zm9yZ2VkLWRpc3BhdGNoLTAx',
      issuedAt: virtualNow(),
    };
    const forged = signJws(DISPATCH_COMMAND_TYP, hub.key.hubId, forgedCmd, generateSecretKey());
    const t = virtualNow();
    const expired = signMessage(
      DISPATCH_COMMAND_TYP,
      hub.key.hubId,
      { ...forgedCmd, nonce: 'ZXhwaXJlZC1kaXNwYXRjaC0x', start: W0, expires: t - 1000, issuedAt: t - 2000 },
      hub.key.secretKey,
    );
    for (const jws of [forged, expired])
      await world.engineClient.publishAsync(topics.command(gwA.identity.gatewayId, 'dispatch'), jws, {
        qos: 1,
      });

    // 5. The answers land in the ledger: B and the two bad commands refused with their reasons at
    //    once; A applied once the window started, with the battery's measured power.
    const byCode = (code: string) =>
      responses().find((x) => x.r.outcome === 'refused' && x.r.reason?.code === code);
    await waitFor(
      () => byCode('writes-disabled') && byCode('bad-signature') && byCode('expired'),
      'three refusals',
      15_000,
    );
    expect(byCode('writes-disabled')?.gw).toBe(gwB.identity.gatewayId);
    expect(byCode('bad-signature')?.gw).toBe(gwA.identity.gatewayId);
    expect(byCode('expired')?.gw).toBe(gwA.identity.gatewayId);
    const applied = await waitFor(
      () => responses().find((x) => x.r.outcome === 'applied'),
      'the applied response',
      20_000,
    );
    expect(applied.gw).toBe(gwA.identity.gatewayId);
    expect(applied.r.command).toBe(toA.body.messageHash);
    expect(applied.r.appliedW).toBe(2000);
    // The battery's power follows the setpoint: the simulator says so, and the signed response
    // measured it (model 802 W, read 3 virtual seconds after the write).
    expect(applied.r.measuredW).toBe(2000);
    sim.home.advanceTo(virtualNow());
    expect(sim.home.batterySetpointW).toBe(2000);
    expect(sim.home.power.batteryW).toBe(2000);
    expect(applied.r.at).toBeGreaterThanOrEqual(W0);
    // The fold recorded both hub commands on the contract with their answers; the forged and the
    // expired commands are not the hub's commands, so their answers name nothing it knows. (The
    // engine folds what ingest appended on its next tick: wait for it.)
    const view = async () =>
      (await (await fetch(`${world.httpUrl}/v1/dispatch/${id}`)).json()) as {
        dispatches: { hash: string; response: string | null }[];
      };
    await waitFor(
      async () => (await view()).dispatches.every((d) => d.response !== null),
      'both answers folded',
    );
    expect((await view()).dispatches.map((d) => [d.hash, d.response])).toEqual([
      [toA.body.messageHash, 'applied'],
      [toB.body.messageHash, 'refused'],
    ]);
    const notices = engine.ledgerState.notices.filter((n) => n.typ === DISPATCH_RESPONSE_TYP);
    expect(notices.map((n) => n.code).sort()).toEqual(['unknown-command', 'unknown-command']);

    // 6. After the window the battery is back on self-consumption, and after the grace the engine
    //    settles. By hand (flexibility.ts rules): minute 1 is called at 2000 W → floor(2000 × 60 s /
    //    3600) = 33 Wh; minute 2 at 1000 W (B's command, issued later, is the effective one) → 16 Wh.
    //    The battery exported at least 2000 W throughout, so delivered = called = 49 Wh, no shortfall.
    //    Minute 2 had a refused call (B): availability 100 × 1/2 = 50; response 49 × 1000 / 1000 = 49.
    const settlement = await waitFor(
      () =>
        hub.ledger
          .range(0, hub.ledger.size)
          .filter((e) => e.typ === SETTLEMENT_TYP)
          .map((e) => decodeJwsUnverified(e.jws)?.payload as SettlementPayload)
          .find((p) => p.contract === id),
      'the settlement entry',
      30_000,
    );
    expect(sim.home.batterySetpointW).toBeNull();
    expect(settlement).toMatchObject({
      outcome: 'partial',
      contractedWh: 49,
      deliveredWh: 49,
      shortfallWh: 0,
      paymentMinor: 99,
      penaltyMinor: 0,
      unpaidMinor: 0,
      released: { seller: 300, buyer: 300 - 99 },
    });
    // The ledger's own fold agrees (it recomputes the settlement from the same entries) and pays.
    await waitFor(() => engine.ledgerState.contracts[id]?.settlement, 'the settlement folded');
    expect(engine.ledgerState.money.accounts[seller.id]?.available).toBe(1000 + 99);
    expect(engine.ledgerState.money.accounts[buyer.id]?.available).toBe(1000 - 99);
  }, 120_000);
});
