// End to end with real parts: the built `wattproof-agent run` process, a real Mosquitto on a free
// port, and simulated SunSpec devices over real Modbus TCP. Time runs accelerated (--time-scale),
// because settlement intervals are at least a minute long; the agent, the simulator and these
// checks share one timeline, so counters and interval boundaries agree.
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyJws } from '../protocol/index.js';
import { GATEWAY_STATUS_TYP } from '../protocol/messages/index.js';
import { waitFor } from './support/agent-cli.js';
import { setUpGateway } from './support/agent-harness.js';
import { type SimHome, startSimHome } from './support/agent-sim-home.js';
import { type AcceptedProof, TestHub } from './support/agent-test-hub.js';
import { type RunningMosquitto, startMosquitto } from './support/mosquitto.js';

const SCALE = 30; // one settlement minute every 2 s

/**
 * Per meter: intervals follow each other without gap or overlap, and readings link. With
 * `allowHonestSkips`, an interval may be missing only if the next proof says so (flag 'partial':
 * its start reading was not taken at its start) — what the agent does when it could not read a
 * meter within lateReadingSeconds of a boundary, e.g. on a machine too loaded to keep up with
 * accelerated time. Intervals never overlap and readings never go backwards either way.
 */
function checkMeterChains(proofs: AcceptedProof[], allowHonestSkips = false): Map<string, AcceptedProof[]> {
  const byMeter = new Map<string, AcceptedProof[]>();
  for (const p of proofs) {
    const list = byMeter.get(p.proof.meter.id) ?? [];
    list.push(p);
    byMeter.set(p.proof.meter.id, list);
  }
  for (const [meter, list] of byMeter) {
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!.proof;
      const b = list[i]!.proof;
      if (allowHonestSkips && b.interval.start > a.interval.end && b.flags.includes('partial')) {
        expect(b.importWh.start).toBeGreaterThanOrEqual(a.importWh.end);
        expect(b.exportWh.start).toBeGreaterThanOrEqual(a.exportWh.end);
        continue;
      }
      expect(b.interval.start, `${meter}: interval ${i} follows ${i - 1}`).toBe(a.interval.end);
      expect(b.importWh.start, `${meter}: import reading links`).toBe(a.importWh.end);
      expect(b.exportWh.start, `${meter}: export reading links`).toBe(a.exportWh.end);
    }
  }
  return byMeter;
}

describe('agent end to end (real Mosquitto, simulated devices over Modbus TCP)', () => {
  let broker: RunningMosquitto;
  let sim: SimHome;
  const origin = Date.now();

  beforeAll(async () => {
    broker = await startMosquitto();
    sim = await startSimHome({ scale: SCALE, origin });
  });
  afterAll(async () => {
    await sim?.close();
    await broker?.stop();
  });

  it('proofs arrive, verify with the gateway key, form one chain, and their energies equal the devices’ counters', async () => {
    const gw = setUpGateway({ brokerUrl: broker.url, simPort: sim.port, scale: SCALE, origin });
    const hub = await TestHub.start(broker.url, gw.identity.gatewayId, gw.identity.publicKey);
    // The clock starts unsynchronised (no marker file) and becomes synchronised later.
    const agent = gw.start();
    try {
      await waitFor(() => hub.accepted.length >= 4, 'four proofs', 30_000);
      writeFileSync(gw.syncFile, '');
      await waitFor(
        () => hub.accepted.filter((p) => !p.proof.flags.includes('clock-unsynchronised')).length >= 4,
        'four proofs after synchronisation',
        40_000,
      );
      agent.child.kill('SIGTERM');
      const exit = await agent.exited;
      expect(exit.code, agent.output()).toBe(0);

      if (process.env.AGENT_E2E_DEBUG)
        console.log(
          hub.accepted
            .map(
              (p) =>
                `${p.seq} ${p.proof.meter.id} ${p.proof.interval.start % 3_600_000} ${p.proof.importWh.start}->${p.proof.importWh.end} ${p.proof.exportWh.start}->${p.proof.exportWh.end} ${p.proof.samples}/${p.proof.expectedSamples} ${p.proof.flags}`,
            )
            .join('\n'),
        );
      expect(hub.errors).toEqual([]);
      const proofs = hub.accepted;
      expect(proofs.map((p) => p.seq)).toEqual(proofs.map((_, i) => i));
      const byMeter = checkMeterChains(proofs);
      expect([...byMeter.keys()].sort()).toEqual(['grid', 'pv']);
      for (const [meter, list] of byMeter) {
        const device = meter as 'grid' | 'pv';
        for (const p of list) {
          // Every reading signed is a value the device served.
          expect(sim.served.get(device)?.has(`${p.proof.importWh.start}/${p.proof.exportWh.start}`)).toBe(
            true,
          );
          expect(sim.served.get(device)?.has(`${p.proof.importWh.end}/${p.proof.exportWh.end}`)).toBe(true);
          expect(p.proof.interval.end - p.proof.interval.start).toBe(60_000);
        }
        // The energy of all proofs together is the counter difference across them.
        const first = list[0]!.proof;
        const last = list.at(-1)!.proof;
        const sum = list.reduce((s, p) => s + p.proof.exportWh.end - p.proof.exportWh.start, 0);
        expect(sum).toBe(last.exportWh.end - first.exportWh.start);
        // A full interval read at its boundary holds about one minute of the device's energy.
        const full = list.filter((p) => p.proof.flags.every((f) => f === 'clock-unsynchronised'));
        expect(full.length).toBeGreaterThan(0);
        const perSecond = device === 'grid' ? 1 : 3;
        for (const p of full) {
          const wh = p.proof.exportWh.end - p.proof.exportWh.start;
          expect(wh).toBeGreaterThanOrEqual(perSecond * 60 - perSecond * 31);
          expect(wh).toBeLessThanOrEqual(perSecond * 60 + perSecond * 31);
        }
        expect(list[0]!.proof.meter).toMatchObject({ id: meter, manufacturer: 'Wattproof Sim' });
      }
      // Unsynchronised at first, synchronised later: the flag follows the clock.
      expect(proofs[0]!.proof.flags).toContain('clock-unsynchronised');
      expect(proofs.at(-1)!.proof.flags).not.toContain('clock-unsynchronised');
      // Birth status retained online, then offline on the way out; telemetry flowed.
      expect(hub.statusMessages.length).toBeGreaterThanOrEqual(2);
      expect(hub.telemetryBatches).toBeGreaterThan(0);
      // Everything receipted is gone from the outbox.
      expect(gw.outboxSeqs()).toEqual([]);
    } finally {
      agent.child.kill('SIGKILL');
      await hub.close();
    }
  }, 120_000);

  it('broker down for an hour of intervals: the outbox grows, every proof arrives in order afterwards, deleted only on its receipt', async () => {
    // One settlement minute every second. (Faster would test the machine, not the agent: the
    // simulator and this test's hub share one busy process, and a reading more than 30 virtual
    // seconds late is — rightly — not accepted for a boundary.)
    const scale = 60;
    const origin2 = Date.now();
    const home = await startSimHome({ scale, origin: origin2 });
    const gw = setUpGateway({
      brokerUrl: broker.url,
      simPort: home.port,
      scale,
      origin: origin2,
      pollSeconds: 15,
    });
    writeFileSync(gw.syncFile, '');
    const hub = await TestHub.start(broker.url, gw.identity.gatewayId, gw.identity.publicKey);
    const agent = gw.start();
    const phase = (what: string) => {
      if (process.env.AGENT_E2E_DEBUG)
        console.log(`${new Date().toISOString()} ${what} accepted=${hub.accepted.length}`);
    };
    try {
      await waitFor(() => hub.accepted.length >= 4, 'first proofs', 30_000);
      phase('stopping broker');
      await broker.stop();
      const downAt = Date.now();
      const before = hub.accepted.length;
      // 60 s of real time = one hour of 1-minute intervals at this scale.
      await waitFor(() => Date.now() - downAt >= 60_000, 'an hour of accelerated intervals', 70_000, 500);
      const queued = gw.outboxSeqs();
      expect(queued.length).toBeGreaterThanOrEqual(2 * 55); // two meters, ~60 intervals
      expect(hub.accepted.length).toBe(before);
      // The hub comes back but holds its receipts: messages arrive, and stay in the outbox.
      hub.sendReceipts = false;
      phase('restarting broker');
      await broker.restart();
      phase('broker back');
      await waitFor(() => hub.accepted.length >= before + 8, 'proofs after the broker returned', 30_000);
      const stillQueued = gw.outboxSeqs();
      for (const p of hub.accepted.slice(before)) expect(stillQueued).toContain(p.seq);
      // Receipts flow again: everything arrives, in order, and the outbox drains.
      phase('releasing receipts');
      hub.releaseReceipts();
      const target = queued.at(-1)!;
      await waitFor(() => hub.accepted.length > target, 'every queued proof', 60_000);
      await waitFor(
        () => {
          const left = gw.outboxSeqs();
          return left.length === 0 || left[0]! > target;
        },
        'the outbox to drain',
        30_000,
      );
      phase('stopping agent');
      agent.child.kill('SIGTERM');
      expect((await agent.exited).code, agent.output()).toBe(0);
      expect(hub.errors).toEqual([]);
      expect(hub.accepted.map((p) => p.seq)).toEqual(hub.accepted.map((_, i) => i));
      checkMeterChains(hub.accepted, true);
    } finally {
      if (process.env.AGENT_E2E_DEBUG) console.log(agent.output());
      agent.child.kill('SIGKILL');
      await hub.close();
      await home.close();
    }
  }, 180_000);

  it('announces itself online (retained) and the broker marks it offline through the last will when it dies', async () => {
    const gw = setUpGateway({
      brokerUrl: broker.url,
      simPort: sim.port,
      scale: SCALE,
      origin,
      devices: ['grid'],
    });
    writeFileSync(gw.syncFile, '');
    const hub = await TestHub.start(broker.url, gw.identity.gatewayId, gw.identity.publicKey);
    const agent = gw.start();
    const states = () =>
      hub.statusMessages.map((jws) => {
        const v = verifyJws(jws, {
          typ: GATEWAY_STATUS_TYP,
          kid: gw.identity.gatewayId,
          publicKeyFor: () => gw.identity.publicKey,
        });
        if (!v.ok) throw new Error(`status message does not verify: ${v.reason}`);
        return (v.payload as { state: string }).state;
      });
    try {
      await waitFor(() => states().includes('online'), 'the online status', 30_000);
      agent.child.kill('SIGKILL');
      await agent.exited;
      await waitFor(() => states().at(-1) === 'offline', 'the last will', 30_000);
    } finally {
      agent.child.kill('SIGKILL');
      await hub.close();
    }
    // A newcomer gets the retained state.
    const late = await TestHub.start(broker.url, gw.identity.gatewayId, gw.identity.publicKey);
    try {
      await waitFor(() => late.statusMessages.length > 0, 'the retained status', 10_000);
    } finally {
      await late.close();
    }
  }, 60_000);
});
