// The agent's contract watcher and the hub's fold count proofs by one rule (protocol/proof-rules.ts,
// which both may import). Here they meet: both use that rule, and for
// random proofs (finer and coarser intervals, flags, intervals outside the window, repeats) the
// event a gateway signs is exactly what the hub finds consistent with the proofs in the log.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildFulfilment, type OwnProof } from '../agent/contracts/watcher-core.js';
import { foldLog } from '../hub/contracts/fold.js';
import { checkFulfilment } from '../hub/contracts/fulfilment-check.js';
import { K, registeredWorld, SCENARIO_CONFIG, scenarioContract } from '../hub/contracts/scenario.js';
import { EXAMPLE_T0 } from '../protocol/messages/examples.js';
import { type FulfilmentEvent, METER_PROOF_FLAGS, type MeterProofFlag } from '../protocol/messages/index.js';

const Q = 900_000;

describe('agent and hub count proofs alike', () => {
  it('agent and hub count by the one rule in protocol/', async () => {
    const agentRules = await import('../agent/contracts/proof-rules.js');
    const hubRules = await import('../hub/contracts/proof-rules.js');
    const protocolRules = await import('../protocol/proof-rules.js');
    for (const [name, fn] of Object.entries(protocolRules)) {
      expect((agentRules as Record<string, unknown>)[name], name).toBe(fn);
      expect((hubRules as Record<string, unknown>)[name], name).toBe(fn);
    }
  });

  const proofArb = fc.record({
    slot: fc.integer({ min: -2, max: 5 }),
    periodMs: fc.constantFrom(300_000, 900_000, 3_600_000),
    sub: fc.integer({ min: 0, max: 2 }),
    meter: fc.constantFrom('grid-meter', 'grid-meter', 'pv-meter'),
    importWh: fc.integer({ min: 0, max: 3000 }),
    exportWh: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: null }),
    flags: fc.subarray([...METER_PROOF_FLAGS] as MeterProofFlag[], { maxLength: 2 }),
  });

  it('for random proofs, the event the agent builds is consistent at the hub', () => {
    fc.assert(
      fc.property(fc.array(proofArb, { maxLength: 20 }), fc.constantFrom('interval', 'window'), (ps, per) => {
        const contract = scenarioContract({ quantity: { wh: 1000, per: per as 'interval' | 'window' } });
        const proofs: OwnProof[] = ps.map((p, i) => {
          const start = Math.max(0, EXAMPLE_T0 + p.slot * Q + p.sub * 300_000);
          const aligned = start - (start % p.periodMs);
          return {
            hash: `${String(i).padStart(4, '0')}${'A'.repeat(39)}`,
            seq: i,
            gw: K.gatewayA.id,
            meter: p.meter,
            energy: 'electricity',
            start: aligned,
            end: aligned + p.periodMs,
            importWh: p.importWh,
            exportWh: p.exportWh,
            flags: p.flags,
          };
        });
        const watched = { id: `ct-${'B'.repeat(43)}`, contract };
        const ev = buildFulfilment(watched, K.gatewayA.id, 'seller', proofs, contract.window.end);
        const event: FulfilmentEvent = { gw: K.gatewayA.id, seq: 99, prev: 'C'.repeat(43), ...ev };
        const verdict = checkFulfilment(contract, proofs, event, 0, false);
        expect(verdict.reasons).toEqual([]);
        expect(verdict.recomputedWh).toBe(ev.measuredWh);
      }),
      { numRuns: 300 },
    );
  });

  it('an event built by the agent from the proofs in a log is consistent when folded', () => {
    const { b, id, contract } = registeredWorld();
    const counters = { importWh: 0, exportWh: 0 };
    const own: OwnProof[] = [];
    [900, 1000, 0, 1100].forEach((wh, i) => {
      const flags: MeterProofFlag[] = i === 2 ? ['device-error'] : [];
      const e = b.proof(
        K.gatewayA.id,
        'grid-meter',
        EXAMPLE_T0 + i * Q,
        Q,
        { importWh: 1, exportWh: wh },
        counters,
        flags,
      );
      const p = e.payload as { seq: number; interval: { start: number; end: number } };
      own.push({
        hash: e.messageHash,
        seq: p.seq,
        gw: K.gatewayA.id,
        meter: 'grid-meter',
        energy: 'electricity',
        start: p.interval.start,
        end: p.interval.end,
        importWh: 1,
        exportWh: wh,
        flags,
      });
    });
    const ev = buildFulfilment({ id, contract }, K.gatewayA.id, 'seller', own, contract.window.end + 60_000);
    b.fulfilment(K.gatewayA.id, { ...ev });
    const s = foldLog(b.entries, SCENARIO_CONFIG);
    expect(s.contracts[id]?.fulfilments).toMatchObject([{ verdict: 'consistent', measuredWh: 3000 }]);
  });
});
