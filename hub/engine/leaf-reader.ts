// How the engine reads its own ledger's leaves for the fold: the same LogEntry that
// hub/contracts' logEntryFromJws makes (or the same undefined), made several times faster, since
// the start-up fold reads every leaf of the log and that read was most of its time.
//
// Why the result is the same, step by step (leaf-reader.test.ts pins it on good and broken leaves):
// - The header: a compact JWS's header is valid or not by its own segment alone, and a log has few
//   distinct ones (one per signer and typ), so each is checked once, by protocol's own
//   decodeJwsUnverified on that segment with a fixed valid payload and an empty signature, and
//   remembered.
// - The other two segments: protocol accepts a segment that holds only base64url characters and is
//   the canonical (unpadded, zero-bit) encoding of what it decodes to; canonicalBase64url checks
//   exactly that on the text, and Buffer's base64url codec (native) decodes such a segment to the
//   same bytes.
// - The payload: the same fatal UTF-8 decoder, JSON.parse and canonical check as protocol.
// - The message hash: the ledger stores SHA-256 of each leaf (hub/ledger computes it on append,
//   the only write path, and the schema refuses updates), which is what messageHashB64 recomputes
//   with the pure-JavaScript SHA-256; only its base64url text is made here.
// - An entry whose typ nothing in the engine reads (foldsTyp, MARKET_TYPS, prices) is not decoded
//   at all: decoded or not, the fold only counts it (applyEntry ignores it, as for a leaf that
//   does not decode).
import { decodeJwsUnverified, fromUtf8, type JwsHeader, MAX_JWS_BYTES } from '../../protocol/index.js';
import type { LogEntry } from '../contracts/fold.js';
import type { Leaf } from '../ledger/ledger.js';

const SEGMENT = /^[A-Za-z0-9_-]*$/;
/**
 * base64url of the JSON text `0`: a valid payload to check a header segment with, as short as any
 * (so the header's leaf is never over the size limit when the real leaf is not).
 */
const SHORTEST_PAYLOAD = 'MA';
/** More distinct headers than this (signers × typs) and the cache starts again. */
const MAX_HEADERS = 100_000;

/** What read() says of a leaf whose typ the caller does not read. */
export const SKIPPED = 'skipped';

export class LeafReader {
  private readonly headers = new Map<string, JwsHeader | null>();

  /** `reads`: whether the caller does anything with entries of a typ. */
  constructor(private readonly reads: (typ: string) => boolean) {}

  /**
   * The leaf as the fold sees it: logEntryFromJws(e.index, e.jws), or SKIPPED when its header is
   * valid but its typ is one the caller does not read.
   */
  read(e: Leaf): LogEntry | undefined | typeof SKIPPED {
    const compact = e.jws;
    if (typeof compact !== 'string' || compact.length > MAX_JWS_BYTES) return undefined;
    const i = compact.indexOf('.');
    const j = i < 0 ? -1 : compact.indexOf('.', i + 1);
    if (j < 0 || compact.indexOf('.', j + 1) >= 0) return undefined;
    const header = this.header(compact.slice(0, i));
    if (header === null) return undefined;
    if (!this.reads(header.typ)) return SKIPPED;
    const p = compact.slice(i + 1, j);
    const s = compact.slice(j + 1);
    if (!canonicalBase64url(p) || !canonicalBase64url(s)) return undefined;
    const bytes = Buffer.from(p, 'base64url');
    let text: string;
    let payload: unknown;
    try {
      text = fromUtf8(bytes);
      payload = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (JSON.stringify(payload) !== text) return undefined;
    const mh = e.messageHash;
    return {
      index: e.index,
      typ: header.typ,
      kid: header.kid,
      payload,
      messageHash: Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('base64url'),
    };
  }

  private header(segment: string): JwsHeader | null {
    let h = this.headers.get(segment);
    if (h === undefined) {
      h = decodeJwsUnverified(`${segment}.${SHORTEST_PAYLOAD}.`)?.header ?? null;
      if (this.headers.size >= MAX_HEADERS) this.headers.clear();
      this.headers.set(segment, h);
    }
    return h;
  }
}

/** The 6-bit value of each base64url character (by char code), -1 for any other. */
const B64URL_VALUE = new Int8Array(128).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries())
  B64URL_VALUE[c.charCodeAt(0)] = i;

/**
 * Whether `s` is the unpadded base64url encoding of some bytes, exactly as that encoding writes
 * them: base64url characters only, a length that is not 1 more than a multiple of 4 (no group
 * ends with a lone character), and zero bits where the last character runs past the last byte
 * (4 of them after 2 characters, 2 after 3). Those are the strings that decode and encode back
 * to themselves, which is what protocol's strict b64url decoder accepts.
 */
export function canonicalBase64url(s: string): boolean {
  if (!SEGMENT.test(s)) return false;
  const tail = s.length % 4;
  if (tail === 0) return true;
  if (tail === 1) return false;
  const last = B64URL_VALUE[s.charCodeAt(s.length - 1)] as number;
  return (last & (tail === 2 ? 0x0f : 0x03)) === 0;
}
