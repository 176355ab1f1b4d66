// Scenario 5: the agent's state directory fills up. The test mounts a small tmpfs (root needed;
// skipped with the reason otherwise) as the state dir, lets the agent run into a real hub, cuts
// the broker so proofs wait in the outbox, then fills the filesystem. The agent must say so in its
// log, keep the proofs it already holds, stay alive, and carry on when space returns: every
// committed proof reaches the ledger once, chain unbroken; intervals it could not sign while the
// disk was full are left unproven and the next proof is flagged.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../hub/hub.js';
import { waitFor } from '../support/agent-cli.js';
import { type SimHome, startSimHome } from '../support/agent-sim-home.js';
import type { RunningMosquitto } from '../support/mosquitto.js';
import { checkLedger, recordResult } from './checker.js';
import { enrolledAgent, hubOnMosquitto, observe, signedSeqs } from './setup.js';

const SCALE = 30;

function canMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  return undefined;
}

describe.skipIf(canMount() !== undefined)('fault: full disk for the agent state directory', () => {
  let broker: RunningMosquitto;
  let hub: Hub;
  let dir: string;
  let sim: SimHome;
  let mounted: string | undefined;
  let fullDiskLog = '';
  const origin = Date.now();

  beforeAll(async () => {
    ({ hub, dir, broker } = await hubOnMosquitto());
    sim = await startSimHome({ scale: SCALE, origin });
  });
  afterAll(async () => {
    await sim?.close();
    await hub?.stop();
    await broker?.stop();
    if (mounted) execFileSync('umount', ['-l', mounted]);
  });

  it('reports the full disk, keeps its proofs, and recovers when space returns', async () => {
    const { gw, truth, logKey } = await enrolledAgent(hub, {
      brokerUrl: broker.url,
      simPort: sim.port,
      scale: SCALE,
      origin,
    });
    // The key was written by the harness; move the state dir onto a 2 MiB tmpfs.
    const saved = path.join(gw.dir, 'saved-state');
    mkdirSync(saved);
    for (const f of readdirSync(gw.stateDir)) copyFileSync(path.join(gw.stateDir, f), path.join(saved, f));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', gw.stateDir]);
    mounted = gw.stateDir;
    for (const f of readdirSync(saved)) copyFileSync(path.join(saved, f), path.join(gw.stateDir, f));
    execFileSync('chmod', ['600', path.join(gw.stateDir, 'gateway.key')]);

    let agent = gw.start();
    const outputs: string[] = [];
    const ledgerSeq = () => hub.ledger.gatewayHead(truth.gw)?.seq ?? -1;
    try {
      await waitFor(() => ledgerSeq() >= 3, 'first proofs', 40_000);
      // Proofs wait in the outbox while the broker is away…
      await broker.stop();
      await waitFor(() => gw.outboxSeqs().length >= 4, 'proofs queued in the outbox', 30_000);
      // …and then the disk fills up.
      const filler = path.join(gw.stateDir, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(4 * 1024 * 1024));
      } catch {
        // ENOSPC: the filesystem is full, as intended.
      }
      observe(gw, truth);
      const held = gw.outboxSeqs();
      const fullAt = Date.now();
      await waitFor(() => Date.now() - fullAt > 8_000, 'a few intervals on a full disk', 20_000, 500);
      const out = agent.output();
      expect(out, 'the agent says the disk is full').toMatch(/full|ENOSPC|SQLITE_FULL|no space/i);
      fullDiskLog = out;
      const alive = agent.child.exitCode === null && agent.child.signalCode === null;
      if (!alive) {
        // It died instead of waiting for space: recorded, and restarted as systemd would.
        outputs.push(out);
        console.log(`[faults] full-disk: the agent exited on a full disk:\n${out.slice(-1500)}`);
        agent = gw.start();
      }
      // Nothing it held was lost.
      for (const s of held) expect(gw.outboxSeqs()).toContain(s);
      // Space returns, the broker returns: everything drains, signing resumes.
      rmSync(filler, { force: true });
      await broker.restart();
      const headBefore = truth.headSeq;
      await waitFor(() => ledgerSeq() >= headBefore + 4, 'new proofs after space returned', 60_000);
      agent.child.kill('SIGTERM');
      await agent.exited;
      outputs.push(agent.output());
      await waitFor(() => gw.outboxSeqs().length === 0, 'an empty outbox', 20_000).catch(() => undefined);
      observe(gw, truth);
      truth.queued = new Set(gw.outboxSeqs());
      truth.loggedSigned = signedSeqs(outputs.join('\n')).size;
      await hub.settle();
      const report = checkLedger(`${dir}/ledger.db`, {
        gateways: [truth],
        contiguousIntervals: true,
        logKey,
      });
      recordResult({ scenario: 'full disk (2 MiB tmpfs state dir)', runs: 1, report });
      if (report.problems.length > 0)
        console.log(
          `[faults] full-disk agent log:\n${outputs
            .join('\n')
            .split('\n')
            .filter((l) => /"level":[4-9]0|proof signed/.test(l))
            .map((l) => l.slice(0, 300))
            .join('\n')}`,
        );
      expect(report.problems).toEqual([]);
      expect(report.lost + report.duplicated + report.chainBreaks).toBe(0);
      expect(alive, 'the agent survives a full disk').toBe(true);
    } finally {
      agent.child.kill('SIGKILL');
    }
  }, 180_000);

  // Once a bug: SQLITE_FULL from the outbox was logged as "device read failed" and the next proof
  // flagged device-error, sending the installer to the wiring instead of the disk.
  it('a full disk is reported as a storage problem, not as a device failure', () => {
    const lines = fullDiskLog.split('\n').filter((l) => /disk is full/.test(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).not.toContain('device read failed');
  });
});
