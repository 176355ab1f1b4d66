// GET /v1/prices/history on a real SQLite ledger: two auctions in different intervals publish two
// hub-signed price entries; the history answers both in log order, each leaf verifying with the
// hub's key and proven in the log; region, energy, time and cursor filters and the limit hold; bad
// parameters are refused with 400 naming the parameter. /v1/prices still answers the latest only.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerEngineApi } from '../hub/engine/api.js';
import { Engine } from '../hub/engine/engine.js';
import { MAX_PRICE_HISTORY_PAGE_BYTES, PriceHistory } from '../hub/engine/price-history.js';
import { energyOrder, participant, Q, T0 } from '../hub/markets/example-orders.js';
import { b64url, leafHash, verifyCompactSignature, verifyInclusion } from '../protocol/index.js';
import { ORDER_TYP, PRICE_TYP, signMessage } from '../protocol/messages/index.js';
import {
  AUCTION_RULES,
  auctionEngineDeps,
  registerAliceAndBob,
  tempHubKey,
  tempLedger,
} from './support/engine-fixtures.js';

const TOKEN = 'operator-token-for-price-history-0123456789';

describe('GET /v1/prices/history', () => {
  const temp = tempLedger('test/price-history');
  const { hubKey, db, ledger } = temp;
  let now = T0 - 3_600_000;
  const engine = new Engine(auctionEngineDeps(temp, () => now));
  const app = Fastify();
  const get = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/prices/history?${query}` });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  };
  type Page = {
    region: string;
    energy: string;
    entries: { index: number; jws: string; payload: { at: number; intervals: { start: number }[] } }[];
    next: number | null;
  };
  const page = async (query: string): Promise<Page> => {
    const r = await get(query);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as unknown as Page;
  };
  /** When each auction's prices were published (the engine's clock at its gate closure). */
  const publishedAt: number[] = [];

  beforeAll(async () => {
    engine.start();
    // Registered before any price exists: the history finds later entries as they come.
    await registerEngineApi(app, { engine, operatorToken: TOKEN });
    await app.ready();
    registerAliceAndBob(engine, now);
    // Interval 1 clears at 20 (800 Wh), interval 2 at 25 (500 Wh).
    const orders = [
      energyOrder({ who: 'alice', side: 'offer', quantityWh: 1000, limitMinorPerKWh: 20 }),
      energyOrder({ who: 'bob', side: 'bid', quantityWh: 800, limitMinorPerKWh: 30 }),
      energyOrder({
        who: 'alice',
        side: 'offer',
        quantityWh: 900,
        limitMinorPerKWh: 25,
        window: { start: T0 + Q, end: T0 + 2 * Q },
        expires: T0 + Q,
      }),
      energyOrder({
        who: 'bob',
        side: 'bid',
        quantityWh: 500,
        limitMinorPerKWh: 40,
        window: { start: T0 + Q, end: T0 + 2 * Q },
        expires: T0 + Q,
      }),
    ];
    for (const o of orders) {
      const who = o.participant === participant('alice').id ? 'alice' : 'bob';
      const r = engine.submitSigned(
        signMessage(ORDER_TYP, o.participant, o, participant(who).secretKey),
        ORDER_TYP,
      );
      expect(r.status).toBe('appended');
    }
    for (const start of [T0, T0 + Q]) {
      now = start - AUCTION_RULES.gateClosureLeadMs;
      publishedAt.push(now);
      engine.tick();
      engine.tick();
    }
  });
  afterAll(async () => {
    engine.stop();
    await app.close();
    db.close();
  });

  it('answers every publication of the region and energy in log order, each leaf hub-signed and in the log', async () => {
    const inLog = ledger.range(0, ledger.size).filter((e) => e.typ === PRICE_TYP);
    expect(inLog).toHaveLength(2);
    const p = await page('region=north&energy=electricity');
    expect(p.region).toBe('north');
    expect(p.energy).toBe('electricity');
    expect(p.next).toBeNull();
    expect(p.entries.map((e) => e.index)).toEqual(inLog.map((e) => e.index));
    expect(p.entries.map((e) => e.payload.at)).toEqual(publishedAt);
    // The first publication has interval 1; the second adds interval 2.
    expect(p.entries.map((e) => e.payload.intervals.map((i) => i.start))).toEqual([[T0], [T0, T0 + Q]]);
    expect(p.entries[1]?.payload.intervals).toMatchObject([
      { start: T0, clearingMinorPerKWh: 20, volumeWh: 800 },
      { start: T0 + Q, clearingMinorPerKWh: 25, volumeWh: 500 },
    ]);
    const size = ledger.size;
    const root = ledger.root(size);
    for (const e of p.entries) {
      expect(verifyCompactSignature(e.jws, hubKey.publicKey)).toBe(true);
      const lh = leafHash(new TextEncoder().encode(e.jws));
      expect(verifyInclusion(lh, e.index, size, ledger.inclusionProof(e.index, size), root)).toBe(true);
      // The payload is the leaf's own.
      expect(e.payload).toEqual(
        JSON.parse(new TextDecoder().decode(b64url.decode(e.jws.split('.')[1] ?? ''))),
      );
    }
    // The latest-only read gives the second one alone.
    const latest = await app.inject({ method: 'GET', url: '/v1/prices?region=north&energy=electricity' });
    expect((latest.json() as { prices: { index: number }[] }).prices.map((x) => x.index)).toEqual([
      inLog[1]?.index,
    ]);
  });

  it('filters by region, energy and publication time; pages with limit and the next cursor', async () => {
    const all = (await page('region=north&energy=electricity')).entries.map((e) => e.index);
    const [first, second] = publishedAt as [number, number];
    expect((await page('region=south&energy=electricity')).entries).toEqual([]);
    expect((await page('region=north&energy=heat')).entries).toEqual([]);
    expect(
      (await page(`region=north&energy=electricity&from=${second}`)).entries.map((e) => e.index),
    ).toEqual([all[1]]);
    expect((await page(`region=north&energy=electricity&to=${second}`)).entries.map((e) => e.index)).toEqual([
      all[0],
    ]);
    expect(
      (await page(`region=north&energy=electricity&from=${first}&to=${second + 1}`)).entries.map(
        (e) => e.index,
      ),
    ).toEqual(all);
    expect((await page(`region=north&energy=electricity&from=${second + 1}`)).entries).toEqual([]);

    const one = await page('region=north&energy=electricity&limit=1');
    expect(one.entries.map((e) => e.index)).toEqual([all[0]]);
    expect(one.next).toBe((all[0] as number) + 1);
    const two = await page(`region=north&energy=electricity&limit=1&start=${one.next}`);
    expect(two.entries.map((e) => e.index)).toEqual([all[1]]);
    expect(two.next).toBeNull();
    expect((await page(`region=north&energy=electricity&start=${(all[1] as number) + 1}`)).entries).toEqual(
      [],
    );
  });

  it('refuses bad parameters with 400 naming the parameter', async () => {
    const cases: [string, string][] = [
      ['energy=electricity', 'region'],
      ['region=north', 'energy'],
      ['region=../etc&energy=electricity', 'region'],
      ['region=north&energy=wind', 'energy'],
      ['region=north&region=south&energy=electricity', 'region'],
      ['region=north&energy=electricity&from=-1', 'from'],
      ['region=north&energy=electricity&to=abc', 'to'],
      ['region=north&energy=electricity&from=10&to=10', 'to'],
      ['region=north&energy=electricity&start=1.5', 'start'],
      ['region=north&energy=electricity&limit=0', 'limit'],
      ['region=north&energy=electricity&limit=1001', 'limit'],
      ['region=north&energy=electricity&limit=x', 'limit'],
    ];
    for (const [query, param] of cases) {
      const r = await get(query);
      expect(r.status, query).toBe(400);
      expect(r.body, query).toMatchObject({
        error: 'bad-request',
        detail: expect.stringMatching(new RegExp(`^${param}: `)),
      });
    }
    expect((await get('region=north&energy=electricity&limit=1000')).status).toBe(200);
  });

  it('a history built on the ledger afresh finds the same entries (read from the log, not the engine)', async () => {
    const fresh = new PriceHistory({ size: () => ledger.size, entryJws: (i) => ledger.entry(i)?.jws }, [
      hubKey.hubId,
    ]);
    expect(await fresh.catchUp()).toBe(2);
    const p = await fresh.page({
      region: 'north',
      energy: 'electricity',
      from: 0,
      to: undefined,
      start: 0,
      limit: 100,
    });
    expect(p.entries.map((e) => e.jws)).toEqual(
      ledger
        .range(0, ledger.size)
        .filter((e) => e.typ === PRICE_TYP)
        .map((e) => e.jws),
    );
    // Price entries under another kid do not count (only the hub publishes prices).
    const other = new PriceHistory({ size: () => ledger.size, entryJws: (i) => ledger.entry(i)?.jws }, [
      'hub-someone-else',
    ]);
    expect(await other.catchUp()).toBe(0);
  });
});

describe('PriceHistory pages stay bounded', () => {
  it('a page stops before its leaves pass 4 MiB, and the next page goes on from there', async () => {
    const { hubKey } = tempHubKey('price-pages');
    // 100 publications of ~54 KiB each (450 intervals): about 5.4 MB of leaves in all.
    const leaves: string[] = [];
    for (let n = 0; n < 100; n++) {
      const intervals = Array.from({ length: 450 }, (_, i) => ({
        start: T0 + i * Q,
        end: T0 + (i + 1) * Q,
        clearingMinorPerKWh: 1000 + n,
        volumeWh: 123_456,
      }));
      const payload = {
        hub: hubKey.hubId,
        region: 'north',
        energy: 'electricity' as const,
        currency: 'EUR',
        intervals,
        at: T0 + n,
      };
      leaves.push(signMessage(PRICE_TYP, hubKey.hubId, payload, hubKey.secretKey));
    }
    expect(Math.max(...leaves.map((l) => l.length))).toBeLessThan(64 * 1024);
    const total = leaves.reduce((s, l) => s + l.length, 0);
    expect(total).toBeGreaterThan(MAX_PRICE_HISTORY_PAGE_BYTES);
    // The ledger's read side as the engine passes it (an array stands for the folded log here).
    const history = new PriceHistory({ size: () => leaves.length, entryJws: (i) => leaves[i] }, [
      hubKey.hubId,
    ]);
    const q = { region: 'north', energy: 'electricity', from: 0, to: undefined, start: 0, limit: 1000 };
    const first = await history.page(q);
    const bytes = first.entries.reduce((s, e) => s + e.jws.length, 0);
    expect(bytes).toBeLessThanOrEqual(MAX_PRICE_HISTORY_PAGE_BYTES);
    expect(first.entries.length).toBeLessThan(100);
    expect(first.next).toBe(first.entries.length);
    const rest = await history.page({ ...q, start: first.next as number });
    expect(rest.next).toBeNull();
    expect([...first.entries, ...rest.entries].map((e) => e.index)).toEqual(leaves.map((_, i) => i));
  });
});

describe('PriceHistory scans in slices', () => {
  it('leaves the event loop free during a long scan; callers during it share it', async () => {
    const { hubKey } = tempHubKey('price-scan');
    const price = signMessage(
      PRICE_TYP,
      hubKey.hubId,
      {
        hub: hubKey.hubId,
        region: 'north',
        energy: 'electricity' as const,
        currency: 'EUR',
        intervals: [{ start: T0, end: T0 + Q, clearingMinorPerKWh: 20, volumeWh: 800 }],
        at: T0,
      },
      hubKey.secretKey,
    );
    // 10,000 other leaves (one header, as a gateway's telemetry would repeat it), the price last.
    const header = b64url.encode(new TextEncoder().encode('{"alg":"EdDSA","typ":"other","kid":"gw-x"}'));
    const leaves = Array.from({ length: 10_000 }, (_, i) => `${header}.e30.c2ln${i}`);
    leaves.push(price);
    let reads = 0;
    const history = new PriceHistory(
      {
        size: () => leaves.length,
        entryJws: (i) => {
          reads++;
          return leaves[i];
        },
      },
      [hubKey.hubId],
    );
    let ranBetween = false;
    setImmediate(() => {
      ranBetween = true;
    });
    const a = history.catchUp();
    const b = history.catchUp();
    expect(b).toBe(a);
    expect(await a).toBe(1);
    expect(ranBetween).toBe(true);
    expect(reads).toBe(leaves.length);
    const p = await history.page({
      region: 'north',
      energy: 'electricity',
      from: 0,
      to: undefined,
      start: 0,
      limit: 10,
    });
    expect(p.entries.map((e) => e.index)).toEqual([10_000]);
  });
});
