import { describe, expect, it } from 'vitest';
import { b64url, MAX_JWS_BYTES, signJws, utf8 } from '../../protocol/index.js';
import { METER_PROOF_TYP } from '../../protocol/messages/index.js';
import { logEntryFromJws } from '../contracts/fold.js';
import { K } from '../contracts/scenario.js';
import { messageHashOf } from '../crypto/hashes.js';
import type { Entry } from '../ledger/ledger.js';
import { canonicalBase64url, LeafReader, SKIPPED } from './leaf-reader.js';

const T0 = Date.UTC(2026, 0, 1);

function entryOf(index: number, jws: string): Entry {
  return {
    index,
    jws,
    typ: 'any',
    kid: 'any',
    gw: null,
    seq: null,
    leafHash: new Uint8Array(32),
    messageHash: messageHashOf(jws),
    receivedMs: 0,
  };
}

const enc = (s: string) => b64url.encode(utf8(s));
const proof = signJws(
  METER_PROOF_TYP,
  K.gatewayA.id,
  {
    gw: K.gatewayA.id,
    seq: 0,
    prev: null,
    meter: { id: 'grid-meter', serial: 'SN-1 — Zähler' },
    energy: 'electricity',
    interval: { start: T0, end: T0 + 900_000 },
    importWh: { start: 0, end: 10 },
    exportWh: { start: 0, end: 0 },
    samples: 90,
    expectedSamples: 90,
    flags: [],
    signedAt: T0 + 901_000,
  },
  K.gatewayA.secretKey,
);
const [h, p, s] = proof.split('.') as [string, string, string];
const status = signJws('wattproof.gateway-status.v1', K.gatewayA.id, { online: true }, K.gatewayA.secretKey);

/** Good leaves and leaves broken in each way protocol's decoder refuses. */
const LEAVES: Record<string, string> = {
  'a meter proof': proof,
  'a typ the fold does not read': status,
  'null payload': `${h}.${enc('null')}.${s}`,
  'empty signature': `${h}.${p}.`,
  'two segments': `${h}.${p}`,
  'four segments': `${h}.${p}.${s}.`,
  'padding in the payload': `${h}.${p}==.${s}`,
  'base64 (not url) character': `${h}.${p.slice(0, -2)}+A.${s}`,
  'signature one character too long': `${h}.${p}.${s}A`,
  'non-zero bits after the signature': `${h}.${p}.${s.slice(0, -1)}B`,
  'non-zero bits after the payload': `${h}.${enc('{"a":1}').slice(0, -1)}f.${s}`,
  'header not JSON': `${enc('{alg')}.${p}.${s}`,
  'header not canonical JSON': `${enc(`{"alg": "EdDSA","kid":"${K.gatewayA.id}","typ":"${METER_PROOF_TYP}"}`)}.${p}.${s}`,
  'header with another field': `${enc(`{"alg":"EdDSA","kid":"${K.gatewayA.id}","typ":"x","x":1}`)}.${p}.${s}`,
  'header alg not EdDSA': `${enc(`{"alg":"none","kid":"${K.gatewayA.id}","typ":"${METER_PROOF_TYP}"}`)}.${p}.${s}`,
  'header kid a number': `${enc(`{"alg":"EdDSA","kid":1,"typ":"${METER_PROOF_TYP}"}`)}.${p}.${s}`,
  'header an array': `${enc('["alg","kid","typ"]')}.${p}.${s}`,
  'payload not UTF-8': `${h}.${b64url.encode(Uint8Array.of(0x7b, 0xff, 0x7d))}.${s}`,
  'payload with a byte order mark': `${h}.${b64url.encode(Uint8Array.of(0xef, 0xbb, 0xbf, ...utf8('{"a":1}')))}.${s}`,
  'payload not JSON': `${h}.${enc('{"a":')}.${s}`,
  'payload not canonical JSON': `${h}.${enc('{"a": 1}')}.${s}`,
  'payload a number not in shortest form': `${h}.${enc('1.0')}.${s}`,
  'payload with an escaped character': `${h}.${enc('{"a":"\\u00e9"}')}.${s}`,
  'too large': `${h}.${enc(JSON.stringify('x'.repeat(MAX_JWS_BYTES)))}.${s}`,
  empty: '',
  'a header as long as the size limit allows': hugeHeader(MAX_JWS_BYTES - 4),
  'a header one character too long for the limit': hugeHeader(MAX_JWS_BYTES - 3),
};

/** A valid header whose segment has `n` characters, with the payload `0` and no signature. */
function hugeHeader(n: number): string {
  const json = (kid: string) => `{"alg":"EdDSA","kid":"${kid}","typ":"${METER_PROOF_TYP}"}`;
  let kid = 'k'.repeat(Math.floor((n * 3) / 4) - json('').length - 2);
  while (enc(json(kid)).length < n) kid += 'k';
  return `${enc(json(kid))}.${enc('0')}.`;
}

describe('LeafReader: the same LogEntry as logEntryFromJws, faster', () => {
  it('reads every good and broken leaf as logEntryFromJws does', () => {
    const reader = new LeafReader(() => true);
    for (const [what, jws] of Object.entries(LEAVES)) {
      // Twice: the second read takes the header from the cache.
      for (const round of [0, 1])
        expect(reader.read(entryOf(7, jws)), `${what} (read ${round + 1})`).toEqual(logEntryFromJws(7, jws));
    }
    expect(reader.read(entryOf(0, proof))).toMatchObject({ typ: METER_PROOF_TYP, kid: K.gatewayA.id });
    // The size limit is on the whole leaf: a leaf just inside it decodes, one just over does not.
    const inside = LEAVES['a header as long as the size limit allows'] as string;
    expect(inside.length).toBe(MAX_JWS_BYTES);
    expect(reader.read(entryOf(0, inside))).toMatchObject({ payload: 0 });
    expect(
      reader.read(entryOf(0, LEAVES['a header one character too long for the limit'] as string)),
    ).toBeUndefined();
    expect(reader.read(entryOf(0, `${h}.${p}==.${s}`))).toBeUndefined();
  });

  it('reads leaves with any one character changed as logEntryFromJws does', () => {
    const reader = new LeafReader(() => true);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
    let seed = 12345;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let differentFromOriginal = 0;
    for (let k = 0; k < 3000; k++) {
      const at = next(proof.length);
      const jws = proof.slice(0, at) + alphabet[next(alphabet.length)] + proof.slice(at + 1);
      const want = logEntryFromJws(k, jws);
      if (want === undefined) differentFromOriginal++;
      expect(reader.read(entryOf(k, jws)), jws).toEqual(want);
    }
    // The mutations reach the refusals, not only harmless spots.
    expect(differentFromOriginal).toBeGreaterThan(500);
  });

  it('skips an entry of a typ the caller does not read, only when its header is valid', () => {
    const reader = new LeafReader((typ) => typ === METER_PROOF_TYP);
    expect(reader.read(entryOf(1, status))).toBe(SKIPPED);
    // Its payload is never decoded: broken or not, the entry is skipped.
    const [sh] = status.split('.') as [string];
    expect(reader.read(entryOf(1, `${sh}.${enc('{"a": 1}')}.`))).toBe(SKIPPED);
    expect(reader.read(entryOf(1, `${sh}.x`))).toBeUndefined();
    expect(reader.read(entryOf(1, proof))).toEqual(logEntryFromJws(1, proof));
    expect(reader.read(entryOf(1, LEAVES['header alg not EdDSA'] as string))).toBeUndefined();
  });

  it('canonicalBase64url accepts exactly what encodes back to itself', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n) % 256);
      const text = Buffer.from(bytes).toString('base64url');
      expect(canonicalBase64url(text)).toBe(true);
      for (const c of ['A', 'B', 'Q', 'g', '_', '=', '+'])
        for (const t of [text + c, text.slice(0, -1) + c]) {
          let roundTrips = false;
          try {
            roundTrips = b64url.encode(b64url.decode(t)) === t;
          } catch {
            roundTrips = false;
          }
          expect(canonicalBase64url(t), t).toBe(roundTrips);
        }
    }
  });
});
