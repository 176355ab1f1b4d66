// Scenario 4: Modbus faults from the simulator's fault switches while the real agent polls over
// Modbus TCP into a real hub: the grid meter stops answering (timeouts), answers with exceptions,
// and vanishes from the bus, each for a few accelerated intervals. Every proof whose interval saw
// a fault says so (device-error, gap or partial), an interval that could not be read is left
// unproven rather than invented (the next proof is flagged), every reading signed is a value the
// device really served, and the healthy PV inverter's proofs are untouched.
// Corrupted CRCs exist only on RTU (socat pty pairs); the RTU path is covered by
// test/modbus-transport.test.ts and not repeated here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../hub/hub.js';
import { decodeJwsUnverified } from '../../protocol/index.js';
import type { MeterProof } from '../../protocol/messages/meter-proof.js';
import { waitFor } from '../support/agent-cli.js';
import { type SimHome, startSimHome } from '../support/agent-sim-home.js';
import type { RunningMosquitto } from '../support/mosquitto.js';
import { checkLedger, exportLedger, recordResult } from './checker.js';
import { enrolledAgent, hubOnMosquitto, observe, signedSeqs } from './setup.js';

const SCALE = 30; // one settlement minute every 2 s
const FAULT_MS = 5_000;

describe('fault: Modbus device faults', () => {
  let broker: RunningMosquitto;
  let hub: Hub;
  let dir: string;
  let sim: SimHome;
  const origin = Date.now();
  const virtual = () => Math.floor(origin + (Date.now() - origin) * SCALE);

  beforeAll(async () => {
    ({ hub, dir, broker } = await hubOnMosquitto());
    sim = await startSimHome({ scale: SCALE, origin });
  });
  afterAll(async () => {
    await sim?.close();
    await hub?.stop();
    await broker?.stop();
  });

  it('timeouts, exceptions and a vanished device: flagged, nothing invented, chain intact', async () => {
    const { gw, truth, logKey } = await enrolledAgent(hub, {
      brokerUrl: broker.url,
      simPort: sim.port,
      scale: SCALE,
      origin,
    });
    const agent = gw.start();
    const windows: Array<{ kind: string; from: number; to: number }> = [];
    const ledgerSeq = () => hub.ledger.gatewayHead(truth.gw)?.seq ?? -1;
    try {
      await waitFor(() => ledgerSeq() >= 3, 'first proofs', 40_000);
      const grid = sim.faults('grid');
      const faults: Array<[string, () => void]> = [
        ['timeout', () => grid.timeout(true)],
        ['exception 4', () => grid.exception(4, true)],
        ['vanished', () => grid.disappear()],
      ];
      for (const [kind, on] of faults) {
        const from = virtual();
        on();
        await new Promise((r) => setTimeout(r, FAULT_MS));
        if (kind === 'vanished') grid.reappear();
        grid.clear();
        windows.push({ kind, from, to: virtual() });
        const at = ledgerSeq();
        await waitFor(() => ledgerSeq() >= at + 4, `proofs after ${kind}`, 40_000);
      }
      agent.child.kill('SIGTERM');
      expect((await agent.exited).code, agent.output()).toBe(0);
      await waitFor(() => gw.outboxSeqs().length === 0, 'an empty outbox', 20_000);
      observe(gw, truth);
      truth.loggedSigned = signedSeqs(agent.output()).size;
      await hub.settle();
      const report = checkLedger(`${dir}/ledger.db`, {
        gateways: [truth],
        contiguousIntervals: true,
        logKey,
      });
      recordResult({ scenario: 'Modbus faults (timeout, exception, vanished)', runs: faults.length, report });
      expect(report.problems).toEqual([]);
      expect(report.lost + report.duplicated + report.chainBreaks).toBe(0);

      const proofs = exportLedger(`${dir}/ledger.db`)
        .map((r) => decodeJwsUnverified(r.leaf))
        .filter((d) => d?.header.kid === truth.gw)
        .map((d) => d?.payload as MeterProof);
      const gridProofs = proofs.filter((p) => p.meter.id === 'grid');
      for (const p of proofs) {
        const device = p.meter.id as 'grid' | 'pv';
        // Nothing invented: both readings are values the device served.
        for (const r of [`${p.importWh.start}/${p.exportWh.start}`, `${p.importWh.end}/${p.exportWh.end}`])
          expect(sim.served.get(device)?.has(r), `${device} seq ${p.seq}: ${r} never served`).toBe(true);
      }
      for (const w of windows) {
        const hit = gridProofs.filter((p) => p.interval.start < w.to && p.interval.end > w.from);
        const after = gridProofs.find((p) => p.interval.start >= w.from);
        // Either a proof covering the fault says so, or the interval was left unproven and the
        // next proof says its readings do not cover it.
        const flagged = [...hit, ...(after ? [after] : [])].some((p) =>
          p.flags.some((f) => f === 'device-error' || f === 'gap' || f === 'partial'),
        );
        expect(flagged, `${w.kind}: no grid proof carries the fault`).toBe(true);
      }
      // The healthy inverter never reports a device error.
      expect(proofs.filter((p) => p.meter.id === 'pv' && p.flags.includes('device-error'))).toEqual([]);
    } finally {
      agent.child.kill('SIGKILL');
    }
  }, 180_000);
});
