// Scenario 4: Modbus faults from the simulator's fault switches while the real agent polls over
// Modbus TCP into a real hub: the grid meter stops answering (timeouts), answers with exceptions,
// and vanishes from the bus, each for a few accelerated intervals. Every proof whose interval saw
// a fault says so (device-error, gap or partial), an interval that could not be read is left
// unproven rather than invented (the next proof is flagged), every reading signed is a value the
// device really served, and the healthy PV inverter's proofs are untouched.
// The second part runs the grid meter over Modbus RTU on a socat pseudo-terminal pair for the
// faults only RTU has, corrupted frames (answers with a wrong CRC), and a counter reset (the
// meter's counters start again from zero): the reset is flagged `counter-reset` as docs/protocol.md
// says, no proof shows a counter going backwards unflagged, and the energy counted by the
// documented rule is never negative and never more than the meter measured (nothing twice).
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../hub/hub.js';
import { decodeJwsUnverified } from '../../protocol/index.js';
import type { MeterProof } from '../../protocol/messages/meter-proof.js';
import { waitFor } from '../support/agent-cli.js';
import { type SimHome, startSimHome } from '../support/agent-sim-home.js';
import type { RunningMosquitto } from '../support/mosquitto.js';
import { checkLedger, exportLedger, recordResult } from './checker.js';
import { type RtuHome, startRtuHome } from './rtu-home.js';
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
      // The receipt of the last proof may land after the agent exited (it stays in the outbox,
      // resent at the next start); what counts is that the hub holds every proof committed.
      observe(gw, truth);
      await waitFor(() => ledgerSeq() >= truth.headSeq, 'the ledger to hold the outbox head', 30_000);
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

describe('fault: Modbus RTU corrupted frames and a counter reset', () => {
  let broker: RunningMosquitto;
  let hub: Hub;
  let dir: string;
  let home: RtuHome;
  const origin = Date.now();
  const virtual = () => Math.floor(origin + (Date.now() - origin) * SCALE);

  beforeAll(async () => {
    ({ hub, dir, broker } = await hubOnMosquitto());
    home = await startRtuHome({ scale: SCALE, origin });
  });
  afterAll(async () => {
    await home?.close();
    await hub?.stop();
    await broker?.stop();
  });

  it('bad CRCs are flagged, the reset is flagged counter-reset, no energy negative or counted twice, chain intact', async () => {
    const { gw, truth, logKey } = await enrolledAgent(hub, {
      brokerUrl: broker.url,
      simPort: 0,
      scale: SCALE,
      origin,
      devices: ['grid'],
    });
    // The same gateway, its grid meter on the serial line instead of Modbus TCP.
    const config = readFileSync(gw.configFile, 'utf8');
    const serial = `{type: serial, path: ${home.path}, baud: 115200, parity: none, timeoutMs: 500}`;
    const rtuConfig = config.replace(/\{type: tcp, [^}]*\}/, serial);
    expect(rtuConfig).toContain(serial);
    writeFileSync(gw.configFile, rtuConfig);
    // A synchronised clock, so the proofs' energy counts (clock-unsynchronised counts 0).
    writeFileSync(gw.syncFile, '');
    const agent = gw.start();
    const ledgerSeq = () => hub.ledger.gatewayHead(truth.gw)?.seq ?? -1;
    try {
      await waitFor(() => ledgerSeq() >= 2, 'first proofs over RTU', 60_000);
      // Corrupted frames: every answer has a wrong CRC for a while.
      const crcFrom = virtual();
      home.faults.corruptCrc(true);
      await new Promise((r) => setTimeout(r, FAULT_MS));
      home.faults.clear();
      const crcTo = virtual();
      let at = ledgerSeq();
      await waitFor(() => ledgerSeq() >= at + 3, 'proofs after the bad CRCs', 40_000);
      // The counter reset, in the middle of an interval.
      const resetAt = home.resetCounters();
      at = ledgerSeq();
      await waitFor(() => ledgerSeq() >= at + 4, 'proofs after the counter reset', 40_000);
      agent.child.kill('SIGTERM');
      expect((await agent.exited).code, agent.output()).toBe(0);
      // The receipt of the last proof may land after the agent exited (it stays in the outbox,
      // resent at the next start); what counts is that the hub holds every proof committed.
      observe(gw, truth);
      await waitFor(() => ledgerSeq() >= truth.headSeq, 'the ledger to hold the outbox head', 30_000);
      truth.loggedSigned = signedSeqs(agent.output()).size;
      await hub.settle();
      const report = checkLedger(`${dir}/ledger.db`, {
        gateways: [truth],
        contiguousIntervals: true,
        logKey,
      });
      recordResult({ scenario: 'Modbus RTU faults (corrupted CRC, counter reset)', runs: 2, report });
      expect(report.problems).toEqual([]);
      expect(report.lost + report.duplicated + report.chainBreaks).toBe(0);

      const proofs = exportLedger(`${dir}/ledger.db`)
        .map((r) => decodeJwsUnverified(r.leaf))
        .filter((d) => d?.header.kid === truth.gw)
        .map((d) => d?.payload as MeterProof)
        .filter((p) => p.meter.id === 'grid');
      const served = new Set(home.served.map((r) => `${r.importWh}/${r.exportWh}`));
      for (const p of proofs)
        for (const r of [`${p.importWh.start}/${p.exportWh.start}`, `${p.importWh.end}/${p.exportWh.end}`])
          expect(served.has(r), `seq ${p.seq}: ${r} never served`).toBe(true);
      // Bad CRCs: a proof covering them (or the one after an unproven interval) says so.
      const crcHit = proofs.filter((p) => p.interval.start < crcTo && p.interval.end > crcFrom);
      const crcAfter = proofs.find((p) => p.interval.start >= crcFrom);
      expect(
        [...crcHit, ...(crcAfter ? [crcAfter] : [])].some((p) =>
          p.flags.some((f) => f === 'device-error' || f === 'gap' || f === 'partial'),
        ),
        'no proof carries the corrupted frames',
      ).toBe(true);
      // The reset: the proof whose readings straddle it is flagged counter-reset; none after it.
      const straddling = proofs.filter((p) => p.importWh.end < p.importWh.start);
      expect(straddling.length, 'a proof whose counter went backwards').toBeGreaterThan(0);
      for (const p of straddling) expect(p.flags, `seq ${p.seq}`).toContain('counter-reset');
      const flagged = proofs.filter((p) => p.flags.includes('counter-reset'));
      expect(flagged.length).toBe(1);
      expect((flagged[0] as MeterProof).interval.end).toBeGreaterThan(resetAt);
      // Energy by the documented rule (docs/contracts.md, "Which proofs count"): a zero-count flag
      // counts 0, everything else counts end − start, which must never be negative. The sum is at
      // most what the meter measured: before the reset from its first to its last reading, after
      // it from zero to its last reading. Counting the reset twice (or its jump) would exceed it.
      const zero = ['clock-jump', 'clock-unsynchronised', 'counter-reset', 'scale-change'];
      let counted = 0;
      for (const p of proofs) {
        if (p.flags.some((f) => zero.includes(f))) continue;
        const d = p.importWh.end - p.importWh.start;
        expect(d, `seq ${p.seq}: negative energy`).toBeGreaterThanOrEqual(0);
        counted += d;
      }
      const before = home.served.filter((r) => !r.afterReset).map((r) => r.importWh);
      const after = home.served.filter((r) => r.afterReset).map((r) => r.importWh);
      const measured = Math.max(...before) - Math.min(...before) + Math.max(0, ...after);
      expect(counted).toBeGreaterThan(0);
      expect(counted).toBeLessThanOrEqual(measured);
      // After the reset, counting starts from the new counter: the next proof begins where the
      // flagged one ended (a small post-reset value), never from the old counter.
      const resetProof = flagged[0] as MeterProof;
      const next = proofs.find((p) => p.seq > resetProof.seq);
      expect(next?.importWh.start).toBe(resetProof.importWh.end);
      expect(resetProof.importWh.end).toBeLessThan(1_000_000);
    } finally {
      agent.child.kill('SIGKILL');
    }
  }, 240_000);
});
