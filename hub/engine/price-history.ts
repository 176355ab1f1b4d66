// Every price publication of a region and energy type, read from the ledger in log order: what
// GET /v1/prices/history answers (docs/hub.md, docs/markets.md "Prices"). Price entries are the
// hub-signed `wattproof.price.v1` leaves; the ledger has no index by typ, so this keeps its own:
// the ledger index and publication time of each, per "region/energy", found by reading the leaves
// appended since the last call (each leaf is read once in the process's life). Answers read the
// leaves again by index, so the index holds numbers only, not payloads.
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

/** The typ and kid of a compact JWS from its header alone (the payload may be large). */
function headerOf(jws: string): { typ?: unknown; kid?: unknown } | undefined {
  const dot = jws.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const h: unknown = JSON.parse(new TextDecoder().decode(b64url.decode(jws.slice(0, dot))));
    return typeof h === 'object' && h !== null ? (h as { typ?: unknown; kid?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

export class PriceHistory {
  private scanned = 0;
  private readonly books = new Map<string, Indexed[]>();

  constructor(
    private readonly source: PriceLeafSource,
    /** The kids whose price entries count: the hub's (as in the engine's fold). */
    private readonly hubKids: readonly string[],
  ) {}

  /** Reads the entries appended since the last call; returns how many price entries it found. */
  catchUp(): number {
    let found = 0;
    const size = this.source.size();
    for (; this.scanned < size; this.scanned++) {
      const jws = this.source.entryJws(this.scanned);
      if (jws === undefined) break;
      const h = headerOf(jws);
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

  /** One page of the region's and energy's publications, in log order. */
  page(q: PriceHistoryQuery): PriceHistoryPage {
    this.catchUp();
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
