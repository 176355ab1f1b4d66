// Every price publication of a region and energy, in log order: what GET /v1/prices/history
// answers (docs/hub.md, docs/markets.md "Prices"). Price entries are the hub-signed
// `wattproof.price.v1` leaves; the ledger has no index by typ, so a PriceIndex keeps one: the ledger
// index and publication time of each, per "region/energy". The engine records each price entry as
// its fold passes it (engine.ts foldOne), so the index is complete as far as the fold has gone,
// rebuilt by the fold of the whole log at start-up, and never needs a scan of its own. Answers read
// the leaves again by index, so the index holds numbers only. PriceHistory builds the same index
// apart from the engine by reading a log from its start (to check the engine's from the log alone).
import { b64url, decodeJwsUnverified } from '../../protocol/index.js';
import {
  ENERGY_TYPES,
  NAME_PATTERN,
  PRICE_TYP,
  type PricePublication,
  parsePricePublication,
} from '../../protocol/messages/index.js';
import { HttpError, intParam } from '../api/http.js';

/** How PriceHistory reads a log: its entries, by index. */
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

/** Where one price publication is: its ledger index and publication time. */
export interface IndexedPrice {
  readonly index: number;
  readonly at: number;
}

/**
 * The price publication an entry carries, if it counts for the history: a `wattproof.price.v1`
 * entry signed by one of `hubKids` whose payload is a valid publication. The engine's fold and
 * PriceHistory's scan both decide with this, so they index the same entries.
 */
export function pricePublicationOf(
  typ: unknown,
  kid: unknown,
  payload: unknown,
  hubKids: readonly string[],
): PricePublication | undefined {
  if (typ !== PRICE_TYP || typeof kid !== 'string' || !hubKids.includes(kid)) return undefined;
  const parsed = parsePricePublication(payload);
  return parsed.ok ? parsed.value : undefined;
}

/** The ledger index and time of each price publication, per region and energy, in log order. */
export class PriceIndex {
  private readonly books = new Map<string, IndexedPrice[]>();
  private last = -1;
  private count = 0;

  /**
   * Records the publication at ledger index `index`. Entries come in log order; an index at or
   * before the last one recorded is ignored (an entry folded twice is indexed once).
   */
  record(index: number, pub: Pick<PricePublication, 'region' | 'energy' | 'at'>): void {
    if (index <= this.last) return;
    this.last = index;
    const k = `${pub.region}/${pub.energy}`;
    const book = this.books.get(k);
    if (book) book.push({ index, at: pub.at });
    else this.books.set(k, [{ index, at: pub.at }]);
    this.count++;
  }

  /** How many publications are recorded, all regions and energies together. */
  get size(): number {
    return this.count;
  }

  /** The publications of one region and energy, in log order. */
  book(region: string, energy: string): readonly IndexedPrice[] {
    return this.books.get(`${region}/${energy}`) ?? [];
  }
}

/**
 * One page of the region's and energy's publications from `index`, reading only the leaves the
 * page holds (by index, with `entryJws`). A leaf that cannot be read is left out.
 */
export function priceHistoryPage(
  index: PriceIndex,
  entryJws: (index: number) => string | undefined,
  q: PriceHistoryQuery,
): PriceHistoryPage {
  const book = index.book(q.region, q.energy);
  const matches = (p: IndexedPrice) => p.at >= q.from && (q.to === undefined || p.at < q.to);
  const entries: PriceHistoryEntry[] = [];
  let bytes = 0;
  /** Whether a matching publication after the page's last entry is known to exist. */
  let more = false;
  let lastMatching = -1;
  for (let i = firstAtOrAfter(book, q.start); i < book.length; i++) {
    const p = book[i] as IndexedPrice;
    if (!matches(p)) continue;
    lastMatching = p.index;
    if (entries.length === q.limit) {
      more = true;
      break;
    }
    const jws = entryJws(p.index);
    const payload = jws === undefined ? undefined : decodeJwsUnverified(jws)?.payload;
    if (jws === undefined || payload === undefined) continue;
    if (entries.length > 0 && bytes + jws.length > MAX_PRICE_HISTORY_PAGE_BYTES) {
      more = true;
      break;
    }
    bytes += jws.length;
    entries.push({ index: p.index, jws, payload: payload as PricePublication });
  }
  const last = entries.at(-1);
  // Matching leaves after the last entry that could not be read still count as more to come.
  if (last !== undefined && lastMatching > last.index) more = true;
  return {
    region: q.region,
    energy: q.energy,
    entries,
    next: more && last ? last.index + 1 : null,
  };
}

/** The position of the first publication at ledger index ≥ `start` (the book is in log order). */
function firstAtOrAfter(book: readonly IndexedPrice[], start: number): number {
  let lo = 0;
  let hi = book.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((book[mid] as IndexedPrice).index < start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Leaves read per slice of a scan; the scan yields to the event loop between slices. */
const SCAN_SLICE = 2000;
const HEADER_CACHE_MAX = 1024;
const utf8 = new TextDecoder();

/**
 * The history read from a log apart from the engine: each leaf once, from the start, in slices
 * that leave the event loop free. The hub serves from the engine's index instead (it has folded
 * every entry already); this one checks that index against the log, or reads a log no engine folds.
 */
export class PriceHistory {
  private scanned = 0;
  private readonly index = new PriceIndex();
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
    const before = this.index.size;
    const stop = Math.min(this.source.size(), this.scanned + max);
    for (; this.scanned < stop; this.scanned++) {
      // A leaf that cannot be read or decoded is skipped, as the engine's fold skips it.
      const jws = this.source.entryJws(this.scanned);
      if (jws === undefined) continue;
      // The header alone first: most leaves are not prices, and their payloads need no decoding.
      const h = this.headerOf(jws);
      if (h?.typ !== PRICE_TYP || typeof h.kid !== 'string' || !this.hubKids.includes(h.kid)) continue;
      const pub = pricePublicationOf(h.typ, h.kid, decodeJwsUnverified(jws)?.payload, this.hubKids);
      if (pub !== undefined) this.index.record(this.scanned, pub);
    }
    return this.index.size - before;
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
    return priceHistoryPage(this.index, (i) => this.source.entryJws(i), q);
  }
}
