// `npm start` end to end: the demo as a child process (non-TTY), three homes in accelerated time
// (30×, 1-minute intervals: an interval every 2 s), waited for by its output. Checks over the
// hub's HTTP API that every home's proofs are in the ledger and verify, a clean exit 0 on SIGINT,
// `wattproof-hub verify` on the demo's ledger, and that a second run continues the same ledger.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { b64url, verifyConsistency, verifyJws } from '../protocol/index.js';
import { type DemoProcess, startDemo } from './support/demo-process.js';
import { hubCli, waitFor } from './support/hub-fixtures.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-demo-'));
const data = path.join(dir, 'demo');
const HOMES = 3;
const args = [
  '--homes',
  String(HOMES),
  '--speed',
  '30',
  '--interval',
  '1',
  '--data',
  data,
  '--status-every',
  '1',
];
// Startup, two intervals and the shutdown, with room for a loaded 2-core machine.
const WAIT_MS = 30_000;

interface ChainAnswer {
  gw: string;
  publicKey: string;
  entries: { index: number; leaf: string; typ: string; seq: number }[];
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  return (await res.json()) as T;
}

async function stop(demo: DemoProcess): Promise<void> {
  demo.child.kill('SIGINT');
  expect(await demo.exited, demo.stderr()).toBe(0);
  await demo.waitForLine(/^stopped cleanly/, 1000);
}

let first: { size: number; root: string } | undefined;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm start (dist/demo/start.js)', () => {
  it('brings up hub and homes; every home has verified proofs in the ledger within two intervals; Ctrl-C exits 0; the ledger verifies', async () => {
    const demo = startDemo([...args, '--fresh']);
    try {
      const ready = await demo.waitForLine(/^ready: homes=(\d+) hub=(\S+) data=(\S+) ledger=(\S+)/, WAIT_MS);
      expect(ready[1]).toBe(String(HOMES));
      const hub = ready[2] as string;
      expect(ready[3]).toBe(data);
      // What a newcomer needs is printed: the data folder, the hub, the dashboard's state, the verify command.
      const text = demo.lines.join('\n');
      expect(text).toContain(`data folder  ${data}`);
      expect(text).toMatch(/dashboard\s+not wired into the hub yet/);
      expect(text).toMatch(/validator\s+not wired into the hub yet.*pjm-5-bus/);
      expect(text).toContain(`verify ${path.join(data, 'hub', 'ledger.db')}`);

      const all = await demo.waitForLine(
        /^new proofs from all (\d+) homes are in the ledger .* ([\d.]+) intervals after start\)/,
        WAIT_MS,
      );
      expect(all[1]).toBe(String(HOMES));
      expect(Number(all[2])).toBeLessThanOrEqual(2);

      // Over the hub's API: each enrolled gateway has meter proofs that verify with its bound key.
      const keys = await getJson<{ gateways: Record<string, string> }>(`${hub}/v1/keys`);
      const gateways = Object.keys(keys.gateways);
      expect(gateways).toHaveLength(HOMES);
      for (const gw of gateways) {
        const chain = await getJson<ChainAnswer>(`${hub}/v1/gateways/${gw}/chain`);
        const proofs = chain.entries.filter((e) => e.typ === 'wattproof.meter-proof.v1');
        expect(proofs.length, gw).toBeGreaterThan(0);
        for (const p of proofs) {
          const v = verifyJws(p.leaf, {
            typ: 'wattproof.meter-proof.v1',
            kid: gw,
            publicKeyFor: (kid) => (kid === gw ? b64url.decode(chain.publicKey) : undefined),
          });
          expect(v.ok, `${gw} seq ${p.seq}`).toBe(true);
        }
      }
      // The status line shows the homes online and proofs in the ledger.
      const status = await demo.waitForLine(
        new RegExp(`^status: .*homes ${HOMES}/${HOMES} online, ${HOMES} with proofs`),
        WAIT_MS,
      );
      expect(status.input).toMatch(/contracts not wired yet/);
    } finally {
      if (demo.child.exitCode === null) await stop(demo);
    }

    const v = await run(process.execPath, [hubCli, 'verify', path.join(data, 'hub', 'ledger.db')]);
    const ok = /^ok: (\d+) entries, \d+ checkpoints, (\d+) gateways; root (\S+)/m.exec(v.stdout);
    expect(ok, v.stdout).not.toBeNull();
    expect(Number(ok?.[2])).toBe(HOMES);
    // Stopping makes a last checkpoint, so the whole ledger is signed.
    expect(v.stdout).not.toMatch(/not yet covered/);
    first = { size: Number(ok?.[1]), root: ok?.[3] as string };
  }, 90_000);

  it.todo(
    'at least one contract settles within two intervals (pending: contracts and auctions are not wired into hub ingest and the agent yet)',
  );

  it('a second run without --fresh continues the same ledger (consistent with the first) and exits 0 again', async () => {
    expect(first, 'the first run must have passed').toBeDefined();
    const before = first as { size: number; root: string };
    const demo = startDemo(args);
    try {
      const ready = await demo.waitForLine(/^ready: homes=\d+ hub=(\S+)/, WAIT_MS);
      const hub = ready[1] as string;
      expect(demo.lines.join('\n')).toContain(`${before.size} entries so far`);
      await demo.waitForLine(/^new proofs from all \d+ homes are in the ledger/, WAIT_MS);
      const keys = await getJson<{ gateways: Record<string, string> }>(`${hub}/v1/keys`);
      // The same gateways (keys kept in the data folder), no new enrolments.
      expect(Object.keys(keys.gateways)).toHaveLength(HOMES);
      // The new proofs are covered by a checkpoint within checkpointIntervalMs (1 s).
      const later = await waitFor(
        'a checkpoint beyond the first run',
        async () =>
          (
            await getJson<{ checkpoints: { size: number; root: string }[] }>(
              `${hub}/v1/checkpoints?from=${before.size + 1}`,
            )
          ).checkpoints.at(-1),
        WAIT_MS,
      );
      expect(later.size).toBeGreaterThan(before.size);
      const c = await getJson<{ proof: string[] }>(
        `${hub}/v1/proof/consistency?first=${before.size}&second=${later.size}`,
      );
      expect(
        verifyConsistency(
          before.size,
          later.size,
          b64url.decode(before.root),
          b64url.decode(later.root),
          c.proof.map((h) => b64url.decode(h)),
        ),
      ).toBe(true);
    } finally {
      if (demo.child.exitCode === null) await stop(demo);
    }
    const v = await run(process.execPath, [hubCli, 'verify', path.join(data, 'hub', 'ledger.db')]);
    expect(v.stdout).toMatch(/^ok: /m);
  }, 90_000);
});
