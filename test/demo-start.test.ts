// `npm start` end to end: the demo as a child process (non-TTY), three homes in accelerated time
// (30×, 1-minute intervals: an interval every 2 s), waited for by its output. Checks over the
// hub's HTTP API that every home's proofs are in the ledger and verify, that the households'
// contracts settle from the meters as intervals close, a clean exit 0 on SIGINT with every entry
// under the last checkpoint, that a second run continues the same ledger, and `wattproof-hub
// verify` on the demo's ledger.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
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

/** The ledger's size and the latest checkpoint's size and root, read from the database file. */
function ledgerFileState(file: string): { entries: number; size: number; root: string } {
  const db = new Database(file, { readonly: true });
  try {
    const entries = (db.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
    const cp = db.prepare('SELECT size, root FROM checkpoints ORDER BY size DESC LIMIT 1').get() as
      | { size: number; root: Buffer }
      | undefined;
    return { entries, size: cp?.size ?? 0, root: cp ? b64url.encode(cp.root) : '' };
  } finally {
    db.close();
  }
}

let first: { size: number; root: string } | undefined;
let running: DemoProcess | undefined;
let hubUrl = '';

afterAll(async () => {
  if (running && running.child.exitCode === null) {
    running.child.kill('SIGKILL');
    await running.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('npm start (dist/demo/start.js)', () => {
  it('brings up hub and homes; every home has verified proofs in the ledger within two intervals', async () => {
    const demo = startDemo([...args, '--fresh']);
    running = demo;
    const ready = await demo.waitForLine(/^ready: homes=(\d+) hub=(\S+) data=(\S+) ledger=(\S+)/, WAIT_MS);
    expect(ready[1]).toBe(String(HOMES));
    const hub = ready[2] as string;
    hubUrl = hub;
    expect(ready[3]).toBe(data);
    // What a newcomer needs is printed: the data folder, the hub, the dashboard and its login, the
    // validator, the verify command.
    const text = demo.lines.join('\n');
    expect(text).toContain(`data folder  ${data}`);
    expect(text).toContain(`dashboard    ${hub}/ui/  login operator / `);
    expect(text).toMatch(/validator\s+in the hub.*policy north-2026-01-demo.*pjm-5-bus/);
    expect(text).toMatch(/trading\s+3 households registered/);
    expect(text).toContain(`verify ${path.join(data, 'hub', 'ledger.db')}`);
    // Secrets the demo made are readable by the owner only.
    for (const f of [
      'dashboard-login',
      'operator-token',
      'hub/validator.key',
      'homes/home-001/state/participant.key',
    ])
      expect(statSync(path.join(data, f)).mode & 0o777, f).toBe(0o600);

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
    expect(status.input).toMatch(/contracts \d+ settled, \d+ running/);
  }, 60_000);

  it('at least one contract has settled within a few accelerated intervals, from the meters, signed by the hub', async () => {
    expect(running, 'the first run must be up').toBeDefined();
    const demo = running as DemoProcess;
    // Planned at start, delivered in the next interval, settled after its grace (≤ one interval):
    // a few intervals of 2 s; the deadline leaves room for a loaded machine.
    const settled = await waitFor(
      'a settled contract',
      async () =>
        (await getJson<{ contracts: ContractSummary[] }>(`${hubUrl}/v1/contracts?status=settled`))
          .contracts[0],
      WAIT_MS,
    );
    expect(settled.settlement).toMatchObject({ contract: settled.id });
    expect(['fulfilled', 'partial', 'failed']).toContain(settled.settlement?.outcome);
    const detail = await getJson<{ contract: { history: { index: number }[] } }>(
      `${hubUrl}/v1/contracts/${settled.id}`,
    );
    expect(detail.contract.history.length).toBeGreaterThan(2);
    // Both parties are households of the demo, with accounts the settlement moved money between.
    for (const party of [settled.seller, settled.buyer]) {
      const a = await getJson<{ participant: { status: string; role: string } }>(
        `${hubUrl}/v1/participants/${party}`,
      );
      expect(a.participant).toMatchObject({ status: 'approved', role: 'household' });
    }
    // The status line counts it.
    await demo.waitForLine(/^status: .*contracts [1-9]\d* settled/, WAIT_MS);
  }, 60_000);

  it('Ctrl-C exits 0; the last checkpoint covers the whole ledger', async () => {
    expect(running, 'the first run must be up').toBeDefined();
    await stop(running as DemoProcess);
    const s = ledgerFileState(path.join(data, 'hub', 'ledger.db'));
    expect(s.size).toBe(s.entries);
    expect(s.entries).toBeGreaterThan(HOMES);
    first = { size: s.size, root: s.root };
  }, 30_000);

  it('a second run without --fresh continues the same ledger (consistent with the first) and exits 0 again', async () => {
    expect(first, 'the first run must have passed').toBeDefined();
    const before = first as { size: number; root: string };
    const demo = startDemo(args);
    running = demo;
    try {
      const ready = await demo.waitForLine(/^ready: homes=\d+ hub=(\S+)/, WAIT_MS);
      const hub = ready[1] as string;
      // The ledger goes on from where the first run stopped (the engine may have appended since).
      const sofar = /(\d+) entries so far/.exec(demo.lines.join('\n'));
      expect(Number(sofar?.[1])).toBeGreaterThanOrEqual(before.size);
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
  }, 60_000);

  // The verifier learns each participant's key from its self-signed application in the log, and
  // the validator's from the hub's validator.key beside the ledger; then it folds the state again.
  it('`wattproof-hub verify` passes on the demo ledger (with participant and validator entries)', async () => {
    const v = await run(process.execPath, [hubCli, 'verify', path.join(data, 'hub', 'ledger.db')]).catch(
      (e: { stdout: string; stderr: string }) => e,
    );
    const ok = /^ok: (\d+) entries, \d+ checkpoints, (\d+) gateways; root (\S+)/m.exec(v.stdout);
    expect(ok, `${v.stdout}${v.stderr}`).not.toBeNull();
    expect(Number(ok?.[2])).toBe(HOMES);
    expect(v.stdout).not.toMatch(/not yet covered/);
    expect(v.stdout).toMatch(/^state: \d+ participants, \d+ contracts \((\d+) settled\)/m);
  }, 30_000);
});

interface ContractSummary {
  id: string;
  status: string;
  seller: string;
  buyer: string;
  settlement: { contract: string; outcome: string } | null;
}
