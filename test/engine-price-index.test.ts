// The price history's index is kept by the engine's fold, on a real SQLite ledger file: prices
// appended before a hub restart and after it all appear (the catch-up fold at start-up rebuilds
// the index); paging across many publications gives the same pages, byte for byte, as a history
// read from the log alone (PriceHistory); price entries of another key or with a bad payload are
// left out by both; and a request reads only the leaves of its page, never the whole log (reads
// counted on the real ledger).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { registerEngineApi } from '../hub/engine/api.js';
import { Engine } from '../hub/engine/engine.js';
import {
  PriceHistory,
  type PriceHistoryPage,
  type PriceHistoryQuery,
  PriceIndex,
  priceHistoryPage,
} from '../hub/engine/price-history.js';
import { type HubKey, loadOrCreateHubKey } from '../hub/keys.js';
import { type AppendInput, Ledger } from '../hub/ledger/ledger.js';
import { participant, Q, T0 } from '../hub/markets/example-orders.js';
import { leafHash, signJws, verifyCompactSignature, verifyInclusion } from '../protocol/index.js';
import { OPERATOR_CREDIT_TYP, PRICE_TYP, signMessage } from '../protocol/messages/index.js';

const TOKEN = 'operator-token-for-price-index-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-price-index-'));
const dbPath = path.join(dir, 'ledger.db');
const { key: hubKey } = loadOrCreateHubKey(path.join(dir, 'hub.key'));
const { key: otherHub } = loadOrCreateHubKey(path.join(dir, 'other-hub.key'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A hub on the ledger file: engine started (its fold caught up), API registered, reads counted. */
async function openHub(): Promise<{
  ledger: Ledger;
  engine: Engine;
  app: FastifyInstance;
  reads: { leaves: number };
  close: () => Promise<void>;
}> {
  const db = new Database(dbPath);
  const ledger = new Ledger(db, {
    signer: { origin: 'test/price-index', secretKey: hubKey.secretKey, publicKey: hubKey.publicKey },
  });
  // Every leaf read from the ledger, one by one or in ranges (range() or the fold's leaves()), is counted.
  const reads = { leaves: 0 };
  const entry = ledger.entry.bind(ledger);
  const range = ledger.range.bind(ledger);
  const leaves = ledger.leaves.bind(ledger);
  ledger.entry = (i) => {
    reads.leaves++;
    return entry(i);
  };
  ledger.range = (start, end) => {
    const r = range(start, end);
    reads.leaves += r.length;
    return r;
  };
  ledger.leaves = (start, end) => {
    const r = leaves(start, end);
    reads.leaves += r.length;
    return r;
  };
  const engine = new Engine({
    ledger,
    hubKey,
    config: { currency: 'EUR', settlementGraceMs: 60_000, tickMs: 0 },
    clock: () => T0,
    publish: () => {},
    log: pino({ level: 'silent' }),
  });
  engine.start();
  const app = Fastify();
  await registerEngineApi(app, { engine, operatorToken: TOKEN });
  await app.ready();
  return {
    ledger,
    engine,
    app,
    reads,
    close: async () => {
      engine.stop();
      await app.close();
      db.close();
    },
  };
}

function priceLeaf(key: HubKey, region: string, energy: 'electricity' | 'heat', n: number): AppendInput {
  const payload = {
    hub: key.hubId,
    region,
    energy,
    currency: 'EUR',
    intervals: [
      { start: T0 + n * Q, end: T0 + (n + 1) * Q, clearingMinorPerKWh: 20 + (n % 7), volumeWh: 800 },
    ],
    // Not in log order everywhere: the time filter must not assume it.
    at: T0 + n * 1000 + (n % 3 === 0 ? 500 : 0),
  };
  return input(signMessage(PRICE_TYP, key.hubId, payload, key.secretKey), PRICE_TYP, key.hubId);
}

function input(jws: string, typ: string, kid: string): AppendInput {
  return { jws, typ, kid, gw: null, seq: null, receivedMs: T0 };
}

/**
 * `count` north electricity prices, interleaved with south heat prices, operator credits, a price
 * signed by another hub key and a hub-signed price whose payload is not a valid publication.
 */
function batch(first: number, count: number): AppendInput[] {
  const out: AppendInput[] = [];
  for (let n = first; n < first + count; n++) {
    out.push(priceLeaf(hubKey, 'north', 'electricity', n));
    if (n % 2 === 0) out.push(priceLeaf(hubKey, 'south', 'heat', n));
    if (n % 5 === 0) {
      const credit = {
        account: participant('alice').id,
        amountMinor: n + 1,
        reference: `transfer-${n}`,
        currency: 'EUR',
        at: T0 + n,
      };
      out.push(
        input(
          signMessage(OPERATOR_CREDIT_TYP, hubKey.hubId, credit, hubKey.secretKey),
          OPERATOR_CREDIT_TYP,
          hubKey.hubId,
        ),
      );
    }
    if (n % 50 === 0) {
      out.push(priceLeaf(otherHub, 'north', 'electricity', n));
      const bad = { hub: hubKey.hubId, region: 'north', energy: 'electricity', at: T0 + n };
      out.push(input(signJws(PRICE_TYP, hubKey.hubId, bad, hubKey.secretKey), PRICE_TYP, hubKey.hubId));
    }
  }
  return out;
}

function query(over: Partial<PriceHistoryQuery> = {}): PriceHistoryQuery {
  return { region: 'north', energy: 'electricity', from: 0, to: undefined, start: 0, limit: 100, ...over };
}

function url(q: PriceHistoryQuery): string {
  const to = q.to === undefined ? '' : `&to=${q.to}`;
  return `/v1/prices/history?region=${q.region}&energy=${q.energy}&from=${q.from}${to}&start=${q.start}&limit=${q.limit}`;
}

async function getPage(app: FastifyInstance, q: PriceHistoryQuery): Promise<PriceHistoryPage> {
  const res = await app.inject({ method: 'GET', url: url(q) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as PriceHistoryPage;
}

/** Every page of a query through the API, following `next`; checks each against the log alone. */
async function allPages(
  app: FastifyInstance,
  fromLog: PriceHistory,
  q: PriceHistoryQuery,
): Promise<{ indices: number[]; pages: number }> {
  const indices: number[] = [];
  let pages = 0;
  for (let start: number | null = q.start; start !== null; pages++) {
    const p = await getPage(app, { ...q, start });
    // The same answer as a history that read the whole log itself, as JSON on the wire.
    expect(p).toEqual(JSON.parse(JSON.stringify(await fromLog.page({ ...q, start }))));
    expect(p.entries.length).toBeGreaterThan(0);
    expect(p.entries.length).toBeLessThanOrEqual(q.limit);
    indices.push(...p.entries.map((e) => e.index));
    start = p.next;
  }
  return { indices, pages };
}

/** The indices of the hub's valid price entries of a region and energy, straight from the log. */
function pricesInLog(ledger: Ledger, region: string, energy: string, keep = (_at: number) => true): number[] {
  const out: number[] = [];
  for (let i = 0; i < ledger.size; i += 1000)
    for (const e of ledger.range(i, i + 1000)) {
      if (e.typ !== PRICE_TYP || e.kid !== hubKey.hubId) continue;
      const p = JSON.parse(Buffer.from(e.jws.split('.')[1] ?? '', 'base64url').toString()) as {
        region?: string;
        energy?: string;
        intervals?: unknown;
        at: number;
      };
      if (p.region === region && p.energy === energy && p.intervals !== undefined && keep(p.at))
        out.push(e.index);
    }
  return out;
}

describe('the price history from the fold index', () => {
  it('answers prices appended before and after a restart, paged across many, as the log alone does', async () => {
    // Before the restart: 600 north prices among ~1,100 leaves, folded as the engine goes.
    const a = await openHub();
    a.ledger.append(batch(0, 600));
    a.engine.catchUp();
    const fromLogA = new PriceHistory(
      { size: () => a.ledger.size, entryJws: (i) => a.ledger.entry(i)?.jws },
      [hubKey.hubId],
    );
    const before = pricesInLog(a.ledger, 'north', 'electricity');
    expect(before).toHaveLength(600);
    expect((await allPages(a.app, fromLogA, query({ limit: 250 }))).indices).toEqual(before);
    const sizeBefore = a.ledger.size;
    await a.close();

    // After it: the engine's start-up fold rebuilds the index; new prices join it as they fold.
    const b = await openHub();
    expect(b.engine.ledgerState.size).toBe(sizeBefore);
    b.ledger.append(batch(600, 900));
    b.engine.catchUp();
    const fromLogB = new PriceHistory(
      { size: () => b.ledger.size, entryJws: (i) => b.ledger.entry(i)?.jws },
      [hubKey.hubId],
    );
    const all = pricesInLog(b.ledger, 'north', 'electricity');
    expect(all).toHaveLength(1500);
    expect(all.slice(0, 600)).toEqual(before);
    expect(all[600]).toBeGreaterThanOrEqual(sizeBefore);

    const paged = await allPages(b.app, fromLogB, query({ limit: 97 }));
    expect(paged.indices).toEqual(all);
    expect(paged.pages).toBe(Math.ceil(1500 / 97));
    // The other region and energy, a time window across the restart, and a cursor mid-log.
    expect(
      (await allPages(b.app, fromLogB, query({ region: 'south', energy: 'heat', limit: 1000 }))).indices,
    ).toEqual(pricesInLog(b.ledger, 'south', 'heat'));
    const [from, to] = [T0 + 450_000, T0 + 1_100_000];
    expect((await allPages(b.app, fromLogB, query({ from, to, limit: 64 }))).indices).toEqual(
      pricesInLog(b.ledger, 'north', 'electricity', (at) => at >= from && at < to),
    );
    const mid = all[700] as number;
    expect((await allPages(b.app, fromLogB, query({ start: mid, limit: 333 }))).indices).toEqual(
      all.slice(700),
    );
    expect(await getPage(b.app, query({ region: 'east' }))).toEqual({
      region: 'east',
      energy: 'electricity',
      entries: [],
      next: null,
    });

    // The leaves verify: hub-signed and in the log at their index.
    const size = b.ledger.size;
    const root = b.ledger.root(size);
    for (const e of (await getPage(b.app, query({ start: sizeBefore - 5, limit: 20 }))).entries) {
      expect(verifyCompactSignature(e.jws, hubKey.publicKey)).toBe(true);
      const lh = leafHash(new TextEncoder().encode(e.jws));
      expect(verifyInclusion(lh, e.index, size, b.ledger.inclusionProof(e.index, size), root)).toBe(true);
    }
    await b.close();
  });

  it("a restarted hub's first request reads the leaves of its page only, not the log", async () => {
    // The ledger file the test before left: ~2,600 leaves, 1,500 north prices among them.
    const hub = await openHub();
    const size = hub.ledger.size;
    expect(size).toBeGreaterThan(2500);
    // The start-up fold read the log once; the history reads nothing more of it.
    expect(hub.reads.leaves).toBe(size);
    hub.reads.leaves = 0;
    const first = await getPage(hub.app, query({ limit: 10 }));
    expect(first.entries).toHaveLength(10);
    expect(hub.reads.leaves).toBe(10);
    // A page late in the log reads its own leaves too, however far in.
    hub.reads.leaves = 0;
    const late = await getPage(hub.app, query({ start: size - 100, limit: 1000 }));
    expect(late.entries.length).toBeGreaterThan(0);
    expect(hub.reads.leaves).toBe(late.entries.length);
    await hub.close();
  });
});

describe('PriceIndex', () => {
  it('indexes an entry folded twice once, and a page reads only its own leaves', () => {
    const index = new PriceIndex();
    const leaves = Array.from({ length: 30 }, (_, n) => priceLeaf(hubKey, 'north', 'electricity', n).jws);
    for (let n = 0; n < leaves.length; n++)
      index.record(n * 2, { region: 'north', energy: 'electricity', at: T0 + n });
    index.record(40, { region: 'north', energy: 'electricity', at: T0 });
    expect(index.size).toBe(30);
    expect(index.book('north', 'electricity').map((p) => p.index)).toEqual(leaves.map((_, n) => n * 2));
    const read: number[] = [];
    const p = priceHistoryPage(
      index,
      (i) => {
        read.push(i);
        return leaves[i / 2];
      },
      query({ start: 21, limit: 4 }),
    );
    expect(p.entries.map((e) => e.index)).toEqual([22, 24, 26, 28]);
    expect(p.next).toBe(29);
    expect(read).toEqual([22, 24, 26, 28]);
  });
});
