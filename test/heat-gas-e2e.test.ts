// Heat and gas contracts end to end with every part real: a Mosquitto on a free port, the hub
// (Hub.start) with the engine and the validator composed beside it as in contracts-e2e, and two
// real agents (`wattproof-agent run`, built) reading a simulated heat meter (Itron CF Echo II
// register map) and a simulated gas pulse counter (iSMA SFAR-1M-4DI) over Modbus TCP through the
// shipped profiles. Home A feeds heat and gas into the networks, home B takes them.
//
// The simulators are the real devices of wattproof-sim (their registers, float32 kWh and 32-bit
// pulse counters); only the physics behind them is scripted here: the totals step once per
// virtual minute, 45 s into it, by what the test chooses, as in contracts-e2e. So each one-minute
// proof holds exactly the chosen energy, and the balances below are computed by hand.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { CounterUnavailableError, ProfileMeterSource } from '../agent/meter-source.js';
import type { ClosedInterval } from '../agent/metering.js';
import { meterProofPayload } from '../agent/proof.js';
import type { ModbusBus } from '../device-drivers/bus.js';
import { type DeviceContext, GasMeterDevice, HeatMeterDevice } from '../device-drivers/sim/devices.js';
import { SimUnits } from '../device-drivers/sim/modbus-handler.js';
import type { GasSource, GasState, GasTotals } from '../device-drivers/sim/physics/gas.js';
import type { HeatSource, HeatState, HeatTotals } from '../device-drivers/sim/physics/heat.js';
import { Home } from '../device-drivers/sim/physics/home.js';
import { SimTcpServer } from '../device-drivers/sim/tcp-server.js';
import type { Engine } from '../hub/engine/engine.js';
import type { Hub } from '../hub/hub.js';
import {
  type EnergyContract,
  METER_PROOF_TYP,
  type MeterProof,
  parseMeterProof,
} from '../protocol/messages/index.js';
import { gasWhFromDm3 } from '../protocol/units.js';
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
/** The declared calorific value both gas meters are configured with (natural gas H), Wh per m³. */
const CV = 10_550;

interface Step {
  heatTakenWh: number;
  heatFedInWh: number;
  gasTakenDm3: number;
  gasFedInDm3: number;
}

/** Σ of the steps (each at minute + 45 s) that have passed since `from`, up to virtual time v. */
function stepped(from: number, perMinute: (m: number) => Step, v: number): Step {
  const sum: Step = { heatTakenWh: 0, heatFedInWh: 0, gasTakenDm3: 0, gasFedInDm3: 0 };
  for (let m = from; m + 45_000 <= v; m += M) {
    const s = perMinute(m);
    sum.heatTakenWh += s.heatTakenWh;
    sum.heatFedInWh += s.heatFedInWh;
    sum.gasTakenDm3 += s.gasTakenDm3;
    sum.gasFedInDm3 += s.gasFedInDm3;
  }
  return sum;
}

/** The heat meter's physics, scripted: totals that step as the test says. */
class ScriptedHeat implements HeatSource {
  readonly totals: HeatTotals = { takenWh: 0, fedInWh: 0, volumeL: 0 };
  readonly state: HeatState = { powerW: 0, flowC: 60, returnC: 45, flowLph: 0, outdoorC: 2 };
  constructor(
    private readonly from: number,
    private readonly perMinute: (m: number) => Step,
  ) {}
  advanceTo(v: number): void {
    const s = stepped(this.from, this.perMinute, v);
    this.totals.takenWh = s.heatTakenWh;
    this.totals.fedInWh = s.heatFedInWh;
    // 15 K between flow and return: litres = Wh / (1.163 × 15).
    this.totals.volumeL = (s.heatTakenWh + s.heatFedInWh) / (1.163 * 15);
  }
}

class ScriptedGas implements GasSource {
  readonly totals: GasTotals = { takenDm3: 0, fedInDm3: 0 };
  readonly state: GasState = { takenDm3PerHour: 0, fedInDm3PerHour: 0 };
  constructor(
    private readonly from: number,
    private readonly perMinute: (m: number) => Step,
  ) {}
  advanceTo(v: number): void {
    const s = stepped(this.from, this.perMinute, v);
    this.totals.takenDm3 = s.gasTakenDm3;
    this.totals.fedInDm3 = s.gasFedInDm3;
  }
}

/** A home with the simulated heat meter at unit 1 and the gas pulse counter at unit 2. */
async function startHeatGasHome(virtualNow: () => number, seed: number, perMinute: (m: number) => Step) {
  const from = Math.floor(virtualNow() / M) * M - 10 * M;
  const ctx = (unit: number): DeviceContext => ({
    home: new Home({ seed, startMs: virtualNow() }),
    clock: { now: virtualNow },
    unit,
  });
  const heat = new HeatMeterDevice(ctx(1), new ScriptedHeat(from, perMinute));
  const gas = new GasMeterDevice(ctx(2), new ScriptedGas(from, perMinute));
  const units = new SimUnits();
  units.add(1, heat);
  units.add(2, gas);
  const server = new SimTcpServer(units, { port: 0 });
  const { port } = await server.listen();
  return { port, heat, gas, close: () => server.close() };
}

/** The gateway's devices: the heat meter and the gas meter through their profiles. */
function useHeatGasDevices(gw: Gateway, port: number): void {
  const t = `transport: {type: tcp, host: 127.0.0.1, port: ${port}, timeoutMs: 500}`;
  const devices = [
    'devices:',
    `  - {name: heat, ${t}, unit: 1, kind: profile, profile: itron-cf-echo-ii, role: heat, pollSeconds: 5}`,
    `  - {name: gas, ${t}, unit: 2, kind: profile, profile: isma-4di-gas, calorificValueWhPerM3: ${CV}, role: gas, pollSeconds: 5}`,
    '',
  ].join('\n');
  const text = readFileSync(gw.configFile, 'utf8');
  const replaced = text.replace(/^devices:\n(?: {2}- .*\n)+/m, devices);
  if (replaced === text) throw new Error('the harness config has no devices block to replace');
  writeFileSync(gw.configFile, replaced);
}

describe('heat and gas proofs, as the agent builds them', () => {
  const link = { gw: 'gw-abcdefghijklmnop', seq: 0, prev: null };
  const meter = { id: 'gas', serial: 'SFAR-1' };
  const closed = (over: Partial<ClosedInterval>): ClosedInterval => ({
    interval: { start: 1_800_000, end: 2_700_000 },
    importWh: { start: 0, end: 0 },
    exportWh: { start: 0, end: 0 },
    samples: 180,
    expectedSamples: 180,
    flags: [],
    ...over,
  });

  it('a gas meter counting volume signs energy gas, the volume and the calorific value', () => {
    const p = meterProofPayload(
      link,
      meter,
      closed({
        importWh: { start: gasWhFromDm3(12_345_678, CV), end: gasWhFromDm3(12_345_738, CV) },
        volumeDm3: { start: 12_345_678, end: 12_345_738 },
      }),
      2_700_500,
      { energy: 'gas', calorificValueWhPerM3: CV },
    );
    expect(p.energy).toBe('gas');
    // 12 345 678 dm³ × 10 550 / 1000 = 130 246 902.9 → 130 246 902 Wh (docs/markets.md).
    expect(p.importWh).toEqual({ start: 130_246_902, end: 130_247_535 });
    expect(p.gas).toEqual({ volumeDm3: { start: 12_345_678, end: 12_345_738 }, calorificValueWhPerM3: CV });
    expect(p.flags).toEqual([]);
    expect(parseMeterProof(p).ok).toBe(true);
  });

  it('a changed calorific value converts the start again and flags scale-change (the interval counts 0)', () => {
    const p = meterProofPayload(
      link,
      meter,
      closed({
        // The start was converted at 10 550 Wh/m³ before the installer declared 11 000.
        importWh: { start: gasWhFromDm3(1_000_000, CV), end: gasWhFromDm3(1_000_060, 11_000) },
        volumeDm3: { start: 1_000_000, end: 1_000_060 },
      }),
      2_700_500,
      { energy: 'gas', calorificValueWhPerM3: 11_000 },
    );
    expect(p.importWh).toEqual({ start: 11_000_000, end: 11_000_660 });
    expect(p.flags).toEqual(['scale-change']);
    expect(parseMeterProof(p).ok).toBe(true);
  });

  it('a heat meter signs energy heat; an electricity meter’s payload is as before (no energy key)', () => {
    const heat = meterProofPayload(link, { id: 'heat', serial: '1311375' }, closed({}), 2_700_500, {
      energy: 'heat',
    });
    expect(heat.energy).toBe('heat');
    expect(heat.gas).toBeUndefined();
    const power = meterProofPayload(link, { id: 'grid', serial: 'X' }, closed({}), 2_700_500);
    expect('energy' in power).toBe(false);
  });

  it('the installer’s calorific value is required for a volume profile and refused elsewhere', async () => {
    const config = (extra: string, profile: string) =>
      parseAgentConfig(
        `hub: {url: 'mqtt://127.0.0.1:1883'}\ndevices:\n  - {name: m, transport: {type: tcp, host: 127.0.0.1}, unit: 1, kind: profile, profile: ${profile}, role: gas${extra}}\n`,
      ).devices[0] as Parameters<typeof meterSourceOf>[0];
    // describe() only looks the profile up: no Modbus request is made, so no bus is needed.
    const meterSourceOf = (d: ConstructorParameters<typeof ProfileMeterSource>[1]) =>
      new ProfileMeterSource({} as ModbusBus, d);
    await expect(meterSourceOf(config('', 'isma-4di-gas')).describe()).rejects.toThrow(
      /counts gas by volume; declare the gas's calorific value as devices\[\]\.calorificValueWhPerM3/,
    );
    await expect(
      meterSourceOf(config(', calorificValueWhPerM3: 10550', 'cf-echo-ii')).describe(),
    ).rejects.toThrow(CounterUnavailableError);
    await expect(
      meterSourceOf(config(', calorificValueWhPerM3: 10550', 'gas-pulse')).describe(),
    ).resolves.toMatchObject({
      manufacturer: 'iSMA CONTROLLI',
    });
    expect(() =>
      parseAgentConfig(
        "hub: {url: 'mqtt://127.0.0.1:1883'}\ndevices:\n  - {name: m, transport: {type: tcp, host: 127.0.0.1}, unit: 1, kind: sunspec, calorificValueWhPerM3: 10550, role: gas}\n",
      ),
    ).toThrow(/devices\[0\]\.calorificValueWhPerM3: .*only for gas meters read through a profile/);
    expect(() =>
      parseAgentConfig(
        "hub: {url: 'mqtt://127.0.0.1:1883'}\ndevices:\n  - {name: m, transport: {type: tcp, host: 127.0.0.1}, unit: 1, kind: profile, profile: gas-pulse, calorificValueWhPerM3: 10.55, role: gas}\n",
      ),
    ).toThrow(/devices\[0\]\.calorificValueWhPerM3: 10\.55 is not allowed; must be a whole number/);
  });
});

describe('heat and gas contracts end to end: simulated heat and gas meters, real agents, Mosquitto, the hub and its engine', () => {
  const origin = Date.now();
  const virtualNow = () => Math.floor(origin + (Date.now() - origin) * SCALE);
  // Both contracts run over the same window W: two one-minute intervals, set once both parties are
  // registered, 4 virtual minutes (8 s) ahead: time enough to sign, review and activate. Until then
  // every minute is outside it (and the window always lies ahead, so no past minute changes).
  let W = { start: Number.POSITIVE_INFINITY, end: Number.POSITIVE_INFINITY };
  // Home A feeds in 300 then 200 Wh of heat, and 40 dm³ of gas (4 pulses) every minute of the
  // window (outside it: 100 Wh and 20 dm³). It takes nothing.
  const homeAStep = (m: number): Step => ({
    heatTakenWh: 0,
    heatFedInWh: m === W.start ? 300 : m === W.start + M ? 200 : 100,
    gasTakenDm3: 0,
    gasFedInDm3: m >= W.start && m < W.end ? 40 : 20,
  });
  // Home B takes 400 Wh of heat and 60 dm³ of gas (6 pulses) every minute; it feeds in nothing.
  const homeBStep = (): Step => ({ heatTakenWh: 400, heatFedInWh: 0, gasTakenDm3: 60, gasFedInDm3: 0 });

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
      reviewer: householdValidator('heat-gas-e2e', {
        heat: { maxCapacityW: 40_000, capMinorPerKWh: 500 },
        gas: { maxCapacityW: 40_000, capMinorPerKWh: 500 },
      }),
      watcherId: 'heat-gas-watcher',
      watch: ['wattproof/v1/gw/+/status'],
    });
    ({ hub, engine } = world);
    const homeA = await startHeatGasHome(virtualNow, 11, homeAStep);
    world.defer(() => homeA.close());
    const homeB = await startHeatGasHome(virtualNow, 12, homeBStep);
    world.defer(() => homeB.close());
    gwA = gridGateway(world, homeA.port, { scale: SCALE, origin });
    gwB = gridGateway(world, homeB.port, { scale: SCALE, origin });
    useHeatGasDevices(gwA, homeA.port);
    useHeatGasDevices(gwB, homeB.port);
  }, 60_000);

  afterAll(() => world?.stop());

  /** The meter proofs in the ledger, parsed, for one gateway and meter. */
  const proofsOf = (gw: Gateway, meter: string): MeterProof[] =>
    hub.ledger
      .range(0, hub.ledger.size)
      .filter((e) => e.typ === METER_PROOF_TYP && e.gw === gw.identity.gatewayId)
      .map((e) => {
        const parsed = parseMeterProof(
          JSON.parse(Buffer.from(e.jws.split('.')[1] ?? '', 'base64url').toString('utf8')),
        );
        if (!parsed.ok) throw new Error('a proof in the ledger does not parse');
        return parsed.value;
      })
      .filter((p) => p.meter.id === meter);

  it('a heat contract and a gas contract settle from the meters’ proofs to the balances computed by hand', async () => {
    // 1. Enrol both gateways and start the agents with a synchronised clock.
    await enrolAndWaitOnline(world, [gwA, gwB], 30_000);

    // 2. Both households apply for heat and gas, the validator approves, the operator credits 100 each.
    await fundAndApprove(
      world,
      [
        { party: seller, gateways: [gwA.identity.gatewayId] },
        { party: buyer, gateways: [gwB.identity.gatewayId] },
      ],
      { amountMinor: 100, clock: virtualNow, energies: ['gas', 'heat'], capacityW: 40_000 },
    );

    const W0 = Math.ceil(virtualNow() / M) * M + 4 * M;
    W = { start: W0, end: W0 + 2 * M };
    // 3. Two contracts over the window W, signed by both, deposits as the policy asks (the seller's
    //    covers the penalty of a full shortfall, the buyer's the payment of full delivery):
    //    heat: 250 Wh per interval at 40 minor/kWh, penalty 40: deposits 20 each (500 Wh × 40 / 1000);
    //    gas:  400 Wh per interval at 30 minor/kWh, penalty 30: deposits 24 each (800 Wh × 30 / 1000).
    const terms = (
      energy: 'heat' | 'gas',
      meter: string,
      wh: number,
      price: number,
      deposit: number,
      nonce: string,
    ): EnergyContract => ({
      product: 'energy',
      seller: seller.id,
      buyer: buyer.id,
      energy,
      settlementPeriodMs: M,
      window: W,
      currency: 'EUR',
      deliveryPoints: {
        seller: [{ gw: gwA.identity.gatewayId, meter }],
        buyer: [{ gw: gwB.identity.gatewayId, meter }],
      },
      deposits: { seller: deposit, buyer: deposit },
      disputeWindowMs: M,
      region: 'north',
      nonce,
      createdAt: virtualNow(),
      quantity: { wh, per: 'interval' },
      priceMinorPerKWh: price,
      penaltyMinorPerKWh: price,
    });
    const ids: Record<'heat' | 'gas', string> = { heat: '', gas: '' };
    for (const c of [
      terms('heat', 'heat', 250, 40, 20, 'aGVhdC1lMmUtY29udHJhY3Q'),
      terms('gas', 'gas', 400, 30, 24, 'Z2FzLWUyZS1jb250cmFjdA'),
    ]) {
      const r = await world.post('/v1/contracts', signBothParties(c, seller, buyer));
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      ids[c.energy as 'heat' | 'gas'] = r.body.contract as string;
    }
    await waitFor(
      () => Object.values(ids).every((id) => engine.ledgerState.contracts[id]?.status === 'active'),
      `both contracts active (${JSON.stringify(Object.values(ids).map((id) => engine.ledgerState.contracts[id]?.review))})`,
      10_000,
    );
    expect(virtualNow()).toBeLessThan(W0);
    expect(engine.ledgerState.money.accounts[seller.id]).toEqual({ available: 56, escrow: 44 });
    expect(engine.ledgerState.money.accounts[buyer.id]).toEqual({ available: 56, escrow: 44 });

    // 4. The meters decide; settlement runs at the window's end + 2 virtual minutes of grace.
    await waitFor(
      () =>
        Object.values(ids).every((id) =>
          ['settled', 'closed'].includes(engine.ledgerState.contracts[id]?.status ?? ''),
        ),
      'both contracts settled',
      60_000,
      100,
    );
    const s = (id: string) => engine.ledgerState.contracts[id]?.settlement?.payload;
    // Heat: seller fed in 300 then 200 Wh, buyer took 400 and 400.
    //   interval 1: min(300, 400) = 300, capped at 250 → 250; interval 2: min(200, 400) = 200.
    //   delivered 450 of 500, shortfall 50; payment floor(450 × 40 / 1000) = 18 (from the buyer's
    //   escrow of 20); penalty min(floor(50 × 40 / 1000), 20) = 2; released seller 20 − 2 = 18,
    //   buyer 20 − 18 = 2.
    expect(s(ids.heat)).toMatchObject({
      outcome: 'partial',
      contractedWh: 500,
      sellerExportWh: 500,
      buyerImportWh: 800,
      deliveredWh: 450,
      shortfallWh: 50,
      paymentMinor: 18,
      penaltyMinor: 2,
      released: { seller: 18, buyer: 2 },
    });
    // Gas at 10 550 Wh/m³: the seller fed in 40 dm³ a minute = 40 × 10.55 = 422 Wh (the volume
    // steps by whole pulses and 40 × 10.55 is whole, so each minute adds exactly 422 Wh to
    // floor(dm³ × 10 550 / 1000)); the buyer took 60 dm³ = 633 Wh. Per interval min(422, 633) = 422,
    // capped at 400 → delivered 800 of 800; payment floor(800 × 30 / 1000) = 24 (all from escrow);
    // penalty 0; released seller 24, buyer 0.
    expect(s(ids.gas)).toMatchObject({
      outcome: 'fulfilled',
      contractedWh: 800,
      sellerExportWh: 844,
      buyerImportWh: 1266,
      deliveredWh: 800,
      shortfallWh: 0,
      paymentMinor: 24,
      penaltyMinor: 0,
      released: { seller: 24, buyer: 0 },
    });
    // Seller: 56 + (18 + 18) + (24 + 24) = 140.  Buyer: 56 + (2 + 2) + 0 = 60.  140 + 60 = 200.
    expect(engine.ledgerState.money.accounts[seller.id]).toEqual({ available: 140, escrow: 0 });
    expect(engine.ledgerState.money.accounts[buyer.id]).toEqual({ available: 60, escrow: 0 });

    // 5. The proofs the settlements rest on: heat proofs are for heat, in Wh; the buyer's gas proofs
    // carry the volume and the declared calorific value, importWh = floor(dm³ × 10 550 / 1000);
    // the seller's gas meter counts its feed-in as export.
    const inWindow = (p: MeterProof) => p.interval.start >= W.start && p.interval.end <= W.end;
    const heatB = proofsOf(gwB, 'heat').filter(inWindow);
    expect(heatB).toHaveLength(2);
    for (const p of heatB) {
      expect(p.energy).toBe('heat');
      expect(p.meter.manufacturer).toBe('Itron');
      expect(p.importWh.end - p.importWh.start).toBe(400);
      expect(p.gas).toBeUndefined();
    }
    const heatA = proofsOf(gwA, 'heat').filter(inWindow);
    expect(heatA.map((p) => p.exportWh.end - p.exportWh.start)).toEqual([300, 200]);
    const gasB = proofsOf(gwB, 'gas').filter(inWindow);
    expect(gasB).toHaveLength(2);
    for (const p of gasB) {
      expect(p.energy).toBe('gas');
      expect(p.gas?.calorificValueWhPerM3).toBe(CV);
      const v = p.gas?.volumeDm3;
      expect(v && v.end - v.start).toBe(60);
      expect(p.importWh).toEqual({
        start: gasWhFromDm3(v?.start ?? 0, CV),
        end: gasWhFromDm3(v?.end ?? 0, CV),
      });
    }
    const gasA = proofsOf(gwA, 'gas').filter(inWindow);
    expect(
      gasA.map((p) => [p.energy, p.exportWh.end - p.exportWh.start, p.importWh.end - p.importWh.start]),
    ).toEqual([
      ['gas', 422, 0],
      ['gas', 422, 0],
    ]);
  }, 120_000);
});
