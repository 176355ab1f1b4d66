// Every price publication of a region and energy type, read from the ledger in log order: what
// GET /v1/prices/history answers (docs/hub.md, docs/markets.md "Prices"). Price entries are the
// hub-signed `wattproof.price.v1` leaves; the ledger has no index by typ, so this keeps its own:
// the ledger index and publication time of each, per "region/energy", found by reading the leaves
// appended since the last scan (each leaf is read once in the process's life, in slices that leave
// the event loop free). Answers read the leaves again by index, so the index holds numbers only.
import { b64url, decodeJwsUnverified } from '../../protocol/index.js';
import {
  ENERGY_TYPES,
  NAME_PATTERN,
  PRICE_TYP,
  type PricePublication,
  parsePricePublication,
} from '../../protocol/messages/index.js';
import { HttpError, intParam } from '../api/http.js';

/** How the history reads the ledger: the entries the engine has folded, by index. */
export interface PriceLeafSource {
  /** How many entries there are to read (indices 0 … size − 1). */
  size(): number;
  /** The compact JWS of the entry at `index`. */
  entryJws(index: number): string | undefined;
}

export const DEFAULT_PRICE_HISTORY_LIMIT = 100;
export const MAX_PRICE_HISTORY_LIMIT = 1000;
/** A page stops before its leaves pass this many bytes (it always holds at least one entry). */
export const MAX_PRICE_HISTORY_PAGE_BYTES = 4 * 1024 * 1024;

export interface PriceHistoryQuery {
  region: string;
  energy: string;
  /** Publications with `at` ≥ from (UTC ms). */
  from: number;
  /** Publications with `at` < to (UTC ms); absent = no upper bound. */
  to: number | undefined;
  /** The first ledger index to consider (the `next` of the page before). */
  start: number;
  limit: number;
}

export interface PriceHistoryEntry {
  index: number;
  jws: string;
  payload: PricePublication;
}

export interface PriceHistoryPage {
  region: string;
  energy: string;
  entries: PriceHistoryEntry[];
  /** The `start` of the next page; null when this page holds the last matching publication. */
  next: number | null;
}

/** The query string of GET /v1/prices/history, or a 400 naming the parameter and what it takes. */
export function parsePriceHistoryQuery(q: Record<string, unknown>): PriceHistoryQuery {
  const region = q.region;
  if (typeof region !== 'string' || !NAME_PATTERN.test(region))
    throw new HttpError(
      400,
      'bad-request',
      'region: required, a region name (1–64 characters: letters, digits, "_", "." or "-", starting with a letter or digit)',
    );
  const energy = q.energy;
  if (typeof energy !== 'string' || !(ENERGY_TYPES as readonly string[]).includes(energy))
    throw new HttpError(400, 'bad-request', `energy: required, one of ${ENERGY_TYPES.join(', ')}`);
  const from = intParam(q.from, 'from', 0);
  const to = q.to === undefined || q.to === '' ? undefined : intParam(q.to, 'to');
  if (to !== undefined && to <= from)
    throw new HttpError(400, 'bad-request', `to: must be greater than from (${from})`);
  const start = intParam(q.start, 'start', 0);
  const limit = intParam(q.limit, 'limit', DEFAULT_PRICE_HISTORY_LIMIT);
  if (limit < 1 || limit > MAX_PRICE_HISTORY_LIMIT)
    throw new HttpError(400, 'bad-request', `limit: must be from 1 to ${MAX_PRICE_HISTORY_LIMIT}`);
  return { region, energy, from, to, start, limit };
}

interface Indexed {
  index: number;
  at: number;
}

/** Leaves read per slice of a scan; the scan yields to the event loop between slices. */
const SCAN_SLICE = 2000;
const HEADER_CACHE_MAX = 1024;
const utf8 = new TextDecoder();

export class PriceHistory {
  private scanned = 0;
  private readonly books = new Map<string, Indexed[]>();
  /** Headers repeat (one per signer and typ): decoded once, by their base64url segment. */
  private readonly headers = new Map<string, { typ?: unknown; kid?: unknown } | undefined>();
  private scanning: Promise<number> | undefined;

  constructor(
    private readonly source: PriceLeafSource,
    /** The kids whose price entries count: the hub's (as in the engine's fold). */
    private readonly hubKids: readonly string[],
  ) {}

  /**
   * Reads the entries appended since the last scan, in slices with the event loop free between
   * them (a first scan of a large log takes seconds); callers during a scan share it. Resolves
   * to how many price entries it found.
   */
  catchUp(): Promise<number> {
    this.scanning ??= this.scan().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async scan(): Promise<number> {
    let found = 0;
    for (;;) {
      found += this.scanSlice(SCAN_SLICE);
      if (this.scanned >= this.source.size()) return found;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private scanSlice(max: number): number {
    let found = 0;
    const stop = Math.min(this.source.size(), this.scanned + max);
    for (; this.scanned < stop; this.scanned++) {
      // A leaf that cannot be read or decoded is skipped, as the engine's fold skips it.
      const jws = this.source.entryJws(this.scanned);
      if (jws === undefined) continue;
      const h = this.headerOf(jws);
      if (h?.typ !== PRICE_TYP || typeof h.kid !== 'string' || !this.hubKids.includes(h.kid)) continue;
      const parsed = parsePricePublication(decodeJwsUnverified(jws)?.payload);
      if (!parsed.ok) continue;
      const k = `${parsed.value.region}/${parsed.value.energy}`;
      const list = this.books.get(k) ?? [];
      list.push({ index: this.scanned, at: parsed.value.at });
      this.books.set(k, list);
      found++;
    }
    return found;
  }

  /** The typ and kid of a compact JWS from its header alone (the payload may be large). */
  private headerOf(jws: string): { typ?: unknown; kid?: unknown } | undefined {
    const dot = jws.indexOf('.');
    if (dot <= 0) return undefined;
    const segment = jws.slice(0, dot);
    if (this.headers.has(segment)) return this.headers.get(segment);
    let h: { typ?: unknown; kid?: unknown } | undefined;
    try {
      const v: unknown = JSON.parse(utf8.decode(b64url.decode(segment)));
      h = typeof v === 'object' && v !== null ? (v as { typ?: unknown; kid?: unknown }) : undefined;
    } catch {
      h = undefined;
    }
    if (this.headers.size >= HEADER_CACHE_MAX) this.headers.clear();
    this.headers.set(segment, h);
    return h;
  }

  /** One page of the region's and energy's publications, in log order. */
  async page(q: PriceHistoryQuery): Promise<PriceHistoryPage> {
    await this.catchUp();
    const matching = (this.books.get(`${q.region}/${q.energy}`) ?? []).filter(
      (p) => p.index >= q.start && p.at >= q.from && (q.to === undefined || p.at < q.to),
    );
    const entries: PriceHistoryEntry[] = [];
    let bytes = 0;
    for (const p of matching) {
      if (entries.length === q.limit) break;
      const jws = this.source.entryJws(p.index);
      const payload = jws === undefined ? undefined : decodeJwsUnverified(jws)?.payload;
      if (jws === undefined || payload === undefined) continue;
      if (entries.length > 0 && bytes + jws.length > MAX_PRICE_HISTORY_PAGE_BYTES) break;
      bytes += jws.length;
      entries.push({ index: p.index, jws, payload: payload as PricePublication });
    }
    const last = entries.at(-1);
    const more = last !== undefined && matching.some((p) => p.index > last.index);
    return {
      region: q.region,
      energy: q.energy,
      entries,
      next: more && last ? last.index + 1 : null,
    };
  }
}
