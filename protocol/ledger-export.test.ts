import { describe, expect, it } from 'vitest';
import { b64url, utf8 } from './bytes.js';
import { messageHashB64 } from './chain.js';
import { noteVerifierKey, signCheckpoint } from './checkpoint.js';
import { signJws } from './jws.js';
import { buildExampleLedger, EXAMPLE_ORIGIN, exampleCheckpoint, signAsExampleHub } from './ledger-example.js';
import {
  checkConsistencyProof,
  checkInclusionProof,
  formatCheckpoints,
  formatEntries,
  formatEntryLine,
  type LedgerExportFiles,
  leafSummary,
  splitCheckpoints,
  verifyLedgerExport,
} from './ledger-export.js';
import { consistencyProof, inclusionProof, leafHash, memorySubtreeSource } from './merkle.js';
import {
  EXAMPLE_KEYS,
  exampleGapNote,
  exampleGatewayBinding,
  exampleKey,
  exampleMeterProof,
  exampleTelemetry,
} from './messages/examples.js';
import { GAP_NOTE_TYP, GATEWAY_BINDING_TYP, METER_PROOF_TYP, TELEMETRY_TYP } from './messages/index.js';

const K = EXAMPLE_KEYS;
const base = buildExampleLedger();

/** The example's keys.json with other leaves and checkpoints. */
function filesFor(leaves: readonly string[], sizes: readonly number[] = [leaves.length]): LedgerExportFiles {
  return {
    entries: formatEntries(leaves),
    checkpoints: formatCheckpoints(sizes.map((s) => exampleCheckpoint(leaves, s))),
    keys: keysWith({}),
  };
}

function failureOf(files: LedgerExportFiles, opts = {}) {
  const r = verifyLedgerExport(files, opts);
  expect(r.ok).toBe(false);
  return r.failure!;
}

/** Changes one character of a string at `at` to another base64url character. */
function flip(s: string, at: number): string {
  const c = s[at] === 'A' ? 'B' : 'A';
  return s.slice(0, at) + c + s.slice(at + 1);
}

const gwProof = (key: (typeof K)['gatewayA'], seq: number, prev: string | null, extra: object = {}) =>
  signJws(METER_PROOF_TYP, key.id, { ...exampleMeterProof(seq, prev), gw: key.id, ...extra }, key.secretKey);
const bindA = signAsExampleHub(GATEWAY_BINDING_TYP, exampleGatewayBinding(K.gatewayA));

describe('verifyLedgerExport: a good export', () => {
  it('verifies the example ledger completely', () => {
    const r = verifyLedgerExport(base.files);
    expect(r).toMatchObject({
      ok: true,
      entries: 14,
      checkpoints: 3,
      gateways: 2,
      uncheckpointed: 0,
      warnings: [],
    });
    expect(r.latestCheckpoint?.size).toBe(14);
    expect(r.root).toBe(r.latestCheckpoint?.root);
    expect(r.types['wattproof.meter-proof.v1']).toBe(5);
  });

  it('accepts the pinned log key, and warns about entries no checkpoint covers yet', () => {
    expect(verifyLedgerExport(base.files, { logKey: base.vkey }).ok).toBe(true);
    const r = verifyLedgerExport({
      ...base.files,
      checkpoints: formatCheckpoints(base.checkpoints.slice(0, 2)),
    });
    expect(r.ok).toBe(true);
    expect(r.uncheckpointed).toBe(4);
    expect(r.warnings[0]).toMatch(/4 entries after the latest checkpoint/);
  });

  it('an empty log with a size-0 checkpoint verifies', () => {
    const r = verifyLedgerExport({ ...filesFor([], [0]), keys: keysWith({}) });
    expect(r).toMatchObject({ ok: true, entries: 0, checkpoints: 1 });
  });

  it('uses the signature check it is given', () => {
    let calls = 0;
    const r = verifyLedgerExport(base.files, {
      verifySignature: () => {
        calls++;
        return true;
      },
    });
    expect(r.ok).toBe(true);
    expect(calls).toBe(14);
  });
});

describe('verifyLedgerExport: entries streamed line by line', () => {
  it('gives the same report for the lines one at a time, with or without their newline', () => {
    const whole = verifyLedgerExport(base.files);
    const lines = base.files.entries.split('\n').slice(0, -1);
    const progress: number[] = [];
    const streamed = verifyLedgerExport(
      {
        ...base.files,
        entries: (function* () {
          yield* lines;
        })(),
      },
      { onProgress: (n) => progress.push(n), progressEvery: 5 },
    );
    expect(streamed).toEqual(whole);
    expect(progress).toEqual([5, 10]);
    expect(verifyLedgerExport({ ...base.files, entries: lines.map((l) => `${l}\n`) })).toEqual(whole);
  });

  it('names the same failure in a stream as in the whole text', () => {
    const lines = base.files.entries.split('\n').slice(0, -1);
    lines[6] = flip(lines[6] as string, 200);
    const asText = verifyLedgerExport({ ...base.files, entries: `${lines.join('\n')}\n` });
    expect(asText.ok).toBe(false);
    expect(verifyLedgerExport({ ...base.files, entries: lines })).toEqual(asText);
    // An empty line inside the stream is an entry that is not JSON, as in the text.
    const blank = [...lines.slice(0, 3), '', ...lines.slice(3)];
    expect(verifyLedgerExport({ ...base.files, entries: blank }).failure).toMatchObject({
      index: 3,
      reason: 'entry-json',
    });
  });
});

describe('verifyLedgerExport: one changed byte is found and named', () => {
  it('in any entry: that entry fails', () => {
    const lines = base.files.entries.split('\n');
    for (let i = 0; i < base.leaves.length; i++) {
      const leaf = base.leaves[i] as string;
      for (const at of [5, Math.floor(leaf.length / 2), leaf.length - 3]) {
        const changed = [...lines];
        changed[i] = formatEntryLine(i, flip(leaf, at));
        const f = failureOf({ ...base.files, entries: changed.join('\n') });
        expect(f.where, `entry ${i} at ${at}`).toBe('entry');
        expect(f.index, `entry ${i} at ${at}`).toBe(i);
      }
    }
  });

  it('in any checkpoint: that checkpoint fails', () => {
    for (let k = 0; k < base.checkpoints.length; k++) {
      const note = base.checkpoints[k] as string;
      for (const at of [2, note.indexOf('\n') + 1, note.indexOf('=') - 3, note.length - 5]) {
        const cps = [...base.checkpoints];
        cps[k] = flip(note, at);
        const f = failureOf({ ...base.files, checkpoints: formatCheckpoints(cps) });
        expect(f.where, `checkpoint ${k} at ${at}`).toBe('checkpoint');
        expect(f.index, `checkpoint ${k} at ${at}`).toBe(k);
      }
    }
  });

  it('in any key: keys.json fails', () => {
    const keys = JSON.parse(base.files.keys) as { keys: Record<string, string> };
    for (const id of Object.keys(keys.keys)) {
      const changed = structuredClone(keys);
      changed.keys[id] = flip(changed.keys[id] as string, 10);
      const f = failureOf({ ...base.files, keys: JSON.stringify(changed) });
      expect(f.where).toBe('keys');
      expect(f.detail).toContain(id);
    }
  });
});

describe('verifyLedgerExport: every reason', () => {
  it('keys.json: not JSON, wrong fields, bad log key, pinned key differs, hub id differs', () => {
    expect(failureOf({ ...base.files, keys: '{' }).reason).toBe('keys-json');
    expect(failureOf({ ...base.files, keys: '{"format":"x"}' }).reason).toBe('keys-json');
    const keys = JSON.parse(base.files.keys) as {
      log: { vkey: string; hub: string };
      keys: Record<string, string>;
    };
    expect(
      failureOf({ ...base.files, keys: JSON.stringify({ ...keys, log: { ...keys.log, vkey: 'x+y+z' } }) })
        .reason,
    ).toBe('log-key');
    const other = noteVerifierKey(EXAMPLE_ORIGIN, K.validator.publicKey);
    expect(failureOf(base.files, { logKey: other })).toMatchObject({
      where: 'keys',
      reason: 'log-key-mismatch',
    });
    expect(failureOf(base.files, { logKey: 'nonsense' })).toMatchObject({ where: 'keys', reason: 'log-key' });
    expect(
      failureOf({
        ...base.files,
        keys: JSON.stringify({ ...keys, log: { ...keys.log, hub: K.validator.id.replace('val', 'hub') } }),
      }).reason,
    ).toBe('log-key-mismatch');
    const wrongHubKey = { ...keys, keys: { ...keys.keys, [K.hub.id]: keys.keys[K.seller.id] } };
    expect(failureOf({ ...base.files, keys: JSON.stringify(wrongHubKey) }).reason).toBe('key-id-mismatch');
  });

  it('keys.json listing a gateway that no binding binds', () => {
    const keys = JSON.parse(base.files.keys) as { keys: Record<string, string> };
    const other = signAsExampleHub(GATEWAY_BINDING_TYP, exampleGatewayBinding(K.gatewayA));
    const f = failureOf({
      ...filesFor([other]),
      keys: keysWith({
        [K.gatewayA.id]: keys.keys[K.gatewayA.id]!,
        [K.gatewayB.id]: keys.keys[K.gatewayB.id]!,
      }),
    });
    expect(f).toMatchObject({ where: 'keys', reason: 'key-not-bound' });
  });

  it('entries.jsonl: not JSON, unknown fields, wrong index, convenience fields that lie', () => {
    const lines = base.files.entries.trimEnd().split('\n');
    const withLine = (i: number, line: string) => {
      const l = [...lines];
      l[i] = line;
      return { ...base.files, entries: l.join('\n') };
    };
    expect(failureOf(withLine(3, '{')).reason).toBe('entry-json');
    expect(failureOf(withLine(3, JSON.stringify({ index: 3, leaf: base.leaves[3], note: 1 }))).reason).toBe(
      'entry-fields',
    );
    expect(failureOf(withLine(3, JSON.stringify({ index: 4, leaf: base.leaves[3] }))).reason).toBe('index');
    expect(failureOf(withLine(3, JSON.stringify({ index: 3, leaf: base.leaves[3], typ: 'x' }))).reason).toBe(
      'typ-kid-mismatch',
    );
    expect(failureOf(withLine(3, JSON.stringify({ index: 3, leaf: base.leaves[3], kid: 'x' }))).reason).toBe(
      'typ-kid-mismatch',
    );
    const wrongHash = b64url.encode(leafHash(utf8(base.leaves[4]!)));
    expect(
      failureOf(withLine(3, JSON.stringify({ index: 3, leaf: base.leaves[3], leafHash: wrongHash }))).reason,
    ).toBe('leaf-hash');
    const rightHash = b64url.encode(leafHash(utf8(base.leaves[3]!)));
    expect(
      verifyLedgerExport(withLine(3, JSON.stringify({ index: 3, leaf: base.leaves[3], leafHash: rightHash })))
        .ok,
    ).toBe(true);
    // Only index and leaf are required.
    expect(verifyLedgerExport(withLine(3, JSON.stringify({ index: 3, leaf: base.leaves[3] }))).ok).toBe(true);
  });

  it('a replaced entry that is validly signed is caught by the checkpoint that covers it', () => {
    const leaves = [...base.leaves];
    leaves[3] = gwProof(K.gatewayA, 1, messageHashB64(leaves[2]!), {
      importWh: { start: 1_234_150, end: 1_234_999 },
    });
    const f = failureOf({ ...base.files, entries: formatEntries(leaves) });
    expect(f).toMatchObject({ where: 'checkpoint', index: 0, reason: 'checkpoint-root' });
    expect(f.detail).toMatch(/entry in 0\.\.3/);
  });

  it('dropped entries: a checkpoint beyond the end, or a broken chain', () => {
    expect(failureOf({ ...base.files, entries: formatEntries(base.leaves.slice(0, 13)) })).toMatchObject({
      where: 'checkpoint',
      index: 2,
      reason: 'checkpoint-beyond-entries',
    });
    const leaves = [...base.leaves.slice(0, 3), ...base.leaves.slice(4)];
    expect(failureOf(filesFor(leaves))).toMatchObject({ where: 'entry', index: 6, reason: 'chain-gap' });
  });

  it('signatures by unknown keys', () => {
    const unbound = gwProof(K.gatewayA, 0, null);
    expect(failureOf(filesFor([unbound]))).toMatchObject({ index: 0, reason: 'gateway-unbound' });
    const strangerHub = signJws(
      GATEWAY_BINDING_TYP,
      K.operator.id.replace('op-', 'hub-'),
      exampleGatewayBinding(),
      K.operator.secretKey,
    );
    expect(failureOf(filesFor([strangerHub]))).toMatchObject({ index: 0, reason: 'hub-kid' });
    const unknownPt = signJws(
      'wattproof.contract.v1',
      K.operator.id.replace('op-', 'pt-'),
      {},
      K.operator.secretKey,
    );
    expect(failureOf(filesFor([unknownPt]))).toMatchObject({ index: 0, reason: 'kid-unknown' });
  });

  it('message rules: wrong signer kind, schema, gw not the signer, types that are not ledger entries', () => {
    const byHub = signAsExampleHub(METER_PROOF_TYP, exampleMeterProof());
    expect(failureOf(filesFor([byHub])).reason).toBe('signer-kind');
    const badSchema = signJws(
      METER_PROOF_TYP,
      K.gatewayA.id,
      { ...exampleMeterProof(), seq: -1 },
      K.gatewayA.secretKey,
    );
    expect(failureOf(filesFor([bindA, badSchema]))).toMatchObject({ index: 1, reason: 'schema' });
    const telemetry = signJws(TELEMETRY_TYP, K.gatewayA.id, exampleTelemetry(), K.gatewayA.secretKey);
    expect(failureOf(filesFor([bindA, telemetry]))).toMatchObject({ index: 1, reason: 'not-a-ledger-type' });
  });

  it('unknown types fail unless allowed, and then only their signature is checked', () => {
    const future = signAsExampleHub('wattproof.future-entry.v1', { any: 'thing' });
    expect(failureOf(filesFor([future])).reason).toBe('typ-unknown');
    const r = verifyLedgerExport(filesFor([future]), { allowUnknownTypes: true });
    expect(r.ok).toBe(true);
    expect(r.types['wattproof.future-entry.v1']).toBe(1);
    expect(r.warnings[0]).toMatch(/only its signature was checked/);
    const forged = flip(future, future.length - 4);
    expect(failureOf(filesFor([forged]), { allowUnknownTypes: true }).reason).toBe('bad-signature');
  });

  it('bindings: one per gateway', () => {
    expect(failureOf(filesFor([bindA, bindA]))).toMatchObject({ index: 1, reason: 'duplicate-binding' });
  });

  it('chains: repeat, gap without a note, wrong prev, seq 0 with prev', () => {
    const p0 = gwProof(K.gatewayA, 0, null);
    const p1 = gwProof(K.gatewayA, 1, messageHashB64(p0));
    expect(verifyLedgerExport(filesFor([bindA, p0, p1])).ok).toBe(true);
    expect(failureOf(filesFor([bindA, p0, p0]))).toMatchObject({ index: 2, reason: 'chain-repeat' });
    expect(failureOf(filesFor([bindA, p0, gwProof(K.gatewayA, 2, messageHashB64(p1))]))).toMatchObject({
      index: 2,
      reason: 'chain-gap',
    });
    expect(failureOf(filesFor([bindA, p0, gwProof(K.gatewayA, 1, messageHashB64(bindA))]))).toMatchObject({
      index: 2,
      reason: 'chain-prev',
    });
    const fork = gwProof(K.gatewayA, 0, null, { samples: 89, flags: ['gap'] });
    expect(failureOf(filesFor([bindA, p0, p1, fork]))).toMatchObject({ index: 3, reason: 'chain-repeat' });
  });

  it('gaps: a note lets the chain go on; a late message must link both ways; open gaps are reported', () => {
    const p0 = gwProof(K.gatewayA, 0, null);
    const p1 = gwProof(K.gatewayA, 1, messageHashB64(p0));
    const p2 = gwProof(K.gatewayA, 2, messageHashB64(p1));
    const note = signAsExampleHub(GAP_NOTE_TYP, exampleGapNote(1, 1));
    const late = verifyLedgerExport(filesFor([bindA, p0, note, p2, p1]));
    expect(late.ok).toBe(true);
    const open = verifyLedgerExport(filesFor([bindA, p0, note, p2]));
    expect(open.ok).toBe(true);
    expect(open.warnings).toContain('gateway gap still open: seq 1');
    // A late seq 1 that does not link to seq 0, or that seq 2 does not link to.
    const p1other = gwProof(K.gatewayA, 1, messageHashB64(bindA));
    expect(failureOf(filesFor([bindA, p0, note, p2, p1other]))).toMatchObject({
      index: 4,
      reason: 'chain-prev',
    });
    const p1b = gwProof(K.gatewayA, 1, messageHashB64(p0), { samples: 89, flags: ['gap'] });
    expect(failureOf(filesFor([bindA, p0, note, p2, p1b]))).toMatchObject({ index: 4, reason: 'chain-prev' });
    // A note must start at the gateway's next seq and name a bound gateway.
    expect(
      failureOf(filesFor([bindA, p0, signAsExampleHub(GAP_NOTE_TYP, exampleGapNote(2, 3))])),
    ).toMatchObject({
      index: 2,
      reason: 'gap-note',
    });
    expect(failureOf(filesFor([signAsExampleHub(GAP_NOTE_TYP, exampleGapNote(0, 0))]))).toMatchObject({
      index: 0,
      reason: 'gap-note',
    });
    // A message behind the chain that no gap covers.
    expect(failureOf(filesFor([bindA, p0, note, p2, p1, p1]))).toMatchObject({
      index: 5,
      reason: 'chain-repeat',
    });
  });

  it('contracts: each signature must be a party’s', () => {
    const payload = JSON.parse(Buffer.from(base.leaves[4]!.split('.')[1]!, 'base64url').toString()) as object;
    const stranger = exampleKey('stranger', 'pt');
    const byStranger = signJws('wattproof.contract.v1', stranger.id, payload, stranger.secretKey);
    const files = {
      ...filesFor([byStranger]),
      keys: keysWith({ [stranger.id]: b64url.encode(stranger.publicKey) }),
    };
    expect(failureOf(files)).toMatchObject({ index: 0, reason: 'signer-not-party' });
    expect(verifyLedgerExport(filesFor([base.leaves[5]!, base.leaves[4]!])).ok).toBe(true);
  });

  it('checkpoints: format, origin, order', () => {
    expect(failureOf({ ...base.files, checkpoints: 'x\n1\n' })).toMatchObject({
      where: 'checkpoint',
      reason: 'checkpoint-format',
    });
    const other = signCheckpoint(
      { origin: 'other.org/log', size: 0, root: new Uint8Array(32) },
      EXAMPLE_ORIGIN,
      K.hub.secretKey,
      K.hub.publicKey,
    );
    expect(failureOf({ ...base.files, checkpoints: other })).toMatchObject({
      index: 0,
      reason: 'checkpoint-origin',
    });
    const reversed = formatCheckpoints([base.checkpoints[1]!, base.checkpoints[0]!]);
    expect(failureOf({ ...base.files, checkpoints: reversed })).toMatchObject({
      index: 1,
      reason: 'checkpoint-order',
    });
    // The same checkpoint twice is fine.
    expect(
      verifyLedgerExport({
        ...base.files,
        checkpoints: formatCheckpoints([base.checkpoints[0]!, base.checkpoints[0]!]),
      }).ok,
    ).toBe(true);
    // Signed by another key.
    const foreign = signCheckpoint(
      { origin: EXAMPLE_ORIGIN, size: 0, root: new Uint8Array(32) },
      EXAMPLE_ORIGIN,
      K.seller.secretKey,
      K.seller.publicKey,
    );
    expect(failureOf({ ...base.files, checkpoints: foreign }).reason).toBe('checkpoint-signature');
  });
});

describe('splitCheckpoints', () => {
  const cp = base.checkpoints[0]!;
  it('splits notes separated by one empty line, with their line numbers', () => {
    const blocks = splitCheckpoints(formatCheckpoints(base.checkpoints));
    expect(Array.isArray(blocks) && blocks.map((b) => b.line)).toEqual([1, 7, 13]);
    expect(Array.isArray(blocks) && blocks[1]?.note).toBe(base.checkpoints[1]);
    expect(splitCheckpoints('')).toEqual([]);
  });
  it('says what is wrong and where', () => {
    expect(splitCheckpoints(cp + cp)).toMatchObject({ line: 6 });
    expect(splitCheckpoints(`\n${cp}`)).toMatchObject({ line: 1 });
    expect(splitCheckpoints('a\nb\nc\n')).toMatchObject({
      error: expect.stringMatching(/empty line and signature/),
    });
    expect(splitCheckpoints('a\nb\nc\n\nnot a signature\n')).toMatchObject({ line: 5 });
  });
});

describe('proofs from the hub API', () => {
  const hashes = base.leaves.map((l) => leafHash(utf8(l)));
  const store = memorySubtreeSource(hashes);
  const cp14 = base.checkpoints[2]!;
  const inc = (i: number, size = 14) => ({
    leafIndex: i,
    treeSize: size,
    leafHash: b64url.encode(hashes[i]!),
    hashes: inclusionProof(i, size, store).map(b64url.encode),
  });

  it('inclusion: every leaf of the example is in its checkpoint', () => {
    for (let i = 0; i < 14; i++)
      expect(checkInclusionProof(inc(i), cp14, base.vkey, base.leaves[i])).toMatchObject({ ok: true });
  });

  it('inclusion: refuses altered proofs, other sizes, other leaves, bad JSON, bad keys', () => {
    const p = inc(5);
    expect(checkInclusionProof({ ...p, hashes: [...p.hashes].reverse() }, cp14, base.vkey)).toMatchObject({
      reason: 'proof-invalid',
    });
    expect(checkInclusionProof({ ...p, leafIndex: 6 }, cp14, base.vkey)).toMatchObject({
      reason: 'proof-invalid',
    });
    expect(checkInclusionProof(inc(5, 10), cp14, base.vkey)).toMatchObject({ reason: 'size-mismatch' });
    expect(checkInclusionProof(p, cp14, base.vkey, base.leaves[6])).toMatchObject({ reason: 'leaf-hash' });
    expect(checkInclusionProof({ ...p, extra: 1 }, cp14, base.vkey)).toMatchObject({ reason: 'proof-json' });
    expect(checkInclusionProof(p, cp14, 'bad')).toMatchObject({ reason: 'log-key' });
    expect(checkInclusionProof(p, flip(cp14, 50), base.vkey)).toMatchObject({
      reason: 'checkpoint-signature',
    });
  });

  it('inclusion: the hub API spelling {index, size, leafHash, proof} is accepted too', () => {
    const p = inc(7);
    const api = { index: p.leafIndex, size: p.treeSize, leafHash: p.leafHash, proof: p.hashes };
    expect(checkInclusionProof(api, cp14, base.vkey)).toMatchObject({ ok: true });
  });

  it('consistency between the example checkpoints, and refusals', () => {
    const proof = (a: number, b: number) => ({
      first: a,
      second: b,
      hashes: consistencyProof(a, b, store).map(b64url.encode),
    });
    const [c4, c10] = base.checkpoints as [string, string, string];
    expect(checkConsistencyProof(proof(4, 10), c4, c10, base.vkey)).toMatchObject({ ok: true });
    expect(checkConsistencyProof(proof(4, 14), c4, cp14, base.vkey)).toMatchObject({ ok: true });
    expect(checkConsistencyProof(proof(10, 14), c10, cp14, base.vkey)).toMatchObject({ ok: true });
    const p = proof(4, 14);
    expect(
      checkConsistencyProof({ first: 4, second: 14, proof: p.hashes }, c4, cp14, base.vkey),
    ).toMatchObject({ ok: true });
    expect(checkConsistencyProof({ ...p, hashes: p.hashes.slice(1) }, c4, cp14, base.vkey)).toMatchObject({
      reason: 'proof-invalid',
    });
    expect(checkConsistencyProof(p, c10, cp14, base.vkey)).toMatchObject({ reason: 'size-mismatch' });
    expect(checkConsistencyProof({ first: -1 }, c10, cp14, base.vkey)).toMatchObject({
      reason: 'proof-json',
    });
    expect(checkConsistencyProof(p, flip(c4, 50), cp14, base.vkey)).toMatchObject({
      reason: 'checkpoint-signature',
    });
    expect(checkConsistencyProof(p, c4, flip(cp14, 50), base.vkey)).toMatchObject({
      reason: 'checkpoint-signature',
    });
    const other = signCheckpoint(
      { origin: 'other.org/log', size: 14, root: new Uint8Array(32) },
      EXAMPLE_ORIGIN,
      K.hub.secretKey,
      K.hub.publicKey,
    );
    expect(checkConsistencyProof(p, c4, other, base.vkey)).toMatchObject({ reason: 'origin-mismatch' });
  });

  it('leafSummary gives the message hash and the leaf hash', () => {
    expect(leafSummary(base.leaves[0]!)).toEqual({
      messageHash: messageHashB64(base.leaves[0]!),
      leafHash: b64url.encode(hashes[0]!),
    });
  });
});

/** keys.json of the example log with only these extra keys (besides the hub's). */
function keysWith(extra: Record<string, string>): string {
  const keys = JSON.parse(base.files.keys) as { keys: Record<string, string> };
  const keep = [K.hub.id, K.validator.id, K.seller.id, K.buyer.id];
  const kept = Object.fromEntries(keep.map((id) => [id, keys.keys[id]]));
  return JSON.stringify({ ...keys, keys: { ...kept, ...extra } });
}
