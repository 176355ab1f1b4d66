// Scenario 1: the real agent process is killed with SIGKILL at random moments — while it polls,
// signs, writes its outbox and sends — and restarted at once, against a real hub on a real
// Mosquitto, with simulated SunSpec devices over Modbus TCP and accelerated time. Delays come
// from a seeded PRNG (the seed is printed; WATTPROOF_SEED repeats a run). Bounded here; 100+
// kills with WATTPROOF_FULL=1 (npm run test:faults).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../hub/hub.js';
import { waitFor } from '../support/agent-cli.js';
import { type SimHome, startSimHome } from '../support/agent-sim-home.js';
import type { RunningMosquitto } from '../support/mosquitto.js';
import { checkLedger, FULL, prng, recordResult, scenarioSeed } from './checker.js';
import { enrolledAgent, hubOnMosquitto, observe, signedSeqs } from './setup.js';

// One settlement minute every 6 s: a restart stays well inside the 30 s a boundary reading may be late.
const SCALE = 10;
const KILLS = FULL ? 100 : 10;

describe('fault: agent killed with SIGKILL', () => {
  let broker: RunningMosquitto;
  let hub: Hub;
  let dir: string;
  let sim: SimHome;
  const origin = Date.now();

  beforeAll(async () => {
    ({ hub, dir, broker } = await hubOnMosquitto());
    sim = await startSimHome({ scale: SCALE, origin });
  });
  afterAll(async () => {
    await sim?.close();
    await hub?.stop();
    await broker?.stop();
  });

  it(
    `${KILLS} random kills: every committed proof in the ledger once, chain unbroken, verify passes`,
    async () => {
      const seed = scenarioSeed();
      console.log(`[faults] agent-sigkill seed=${seed} kills=${KILLS}`);
      const rand = prng(seed);
      const { gw, truth, logKey } = await enrolledAgent(hub, {
        brokerUrl: broker.url,
        simPort: sim.port,
        scale: SCALE,
        origin,
      });
      const signed = new Set<number>();
      const logs: string[] = [];
      let agent = gw.start();
      try {
        await waitFor(
          () => hub.ledger.gatewayHead(truth.gw) !== undefined,
          'the first proof in the ledger',
          40_000,
        );
        for (let k = 0; k < KILLS; k++) {
          const running = agent;
          // Kill points spread over a whole interval (6 s): some land mid-poll, some while a proof
          // is signed and committed at a boundary, some while the uplink sends or applies receipts.
          await waitFor(() => /device identified/.test(running.output()), 'the agent reading', 30_000, 20);
          await new Promise((r) => setTimeout(r, Math.floor(rand() * 6000)));
          agent.child.kill('SIGKILL');
          expect((await agent.exited).signal).toBe('SIGKILL');
          signedSeqs(agent.output(), signed);
          logs.push(agent.output());
          observe(gw, truth);
          agent = gw.start();
        }
        const head = truth.headSeq;
        await waitFor(
          () => (hub.ledger.gatewayHead(truth.gw)?.seq ?? -1) >= head + 2,
          'proofs after the last restart',
          60_000,
        );
        agent.child.kill('SIGTERM');
        expect((await agent.exited).code, agent.output()).toBe(0);
        signedSeqs(agent.output(), signed);
        logs.push(agent.output());
        // The receipt of the last proof may land after the agent exited (it then stays in the
        // outbox, resent at the next start): what counts is that the hub holds every proof the
        // agent committed. Waiting for an empty outbox of a stopped agent was waiting on luck.
        observe(gw, truth);
        await waitFor(
          () => (hub.ledger.gatewayHead(truth.gw)?.seq ?? -1) >= truth.headSeq,
          'the ledger to hold the outbox head',
          90_000,
        );
        await hub.settle();
        truth.loggedSigned = signed.size;
        // Kept beside the gateway key so test/security/private-keys.test.ts scans it.
        writeFileSync(path.join(gw.dir, 'agent.log'), logs.join('\n'));
        const report = checkLedger(`${dir}/ledger.db`, {
          gateways: [truth],
          contiguousIntervals: true,
          logKey,
        });
        recordResult({ scenario: 'agent SIGKILL (polling/signing/writing/sending)', runs: KILLS, report });
        expect(report.problems).toEqual([]);
        expect(report.lost).toBe(0);
        expect(report.duplicated).toBe(0);
        expect(report.chainBreaks).toBe(0);
        expect(report.entriesFound).toBe(report.entriesExpected);
        expect(report.verifyOk).toBe(true);
        // Every proof the agent logged as signed is among those it committed.
        expect(Math.max(...signed)).toBeLessThanOrEqual(truth.headSeq);
      } finally {
        agent.child.kill('SIGKILL');
      }
    },
    FULL ? 1_800_000 : 180_000,
  );
});
