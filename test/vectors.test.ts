// The published test vectors under test/vectors/. This test regenerates every vector from fixed
// keys and fixed payloads and compares with the files byte for byte; then it checks each one
// with an independent verifier built on node:crypto alone (no Wattproof code), as a third party
// reading docs/protocol.md would. `UPDATE_VECTORS=1 npx vitest run test/vectors.test.ts` rewrites
// the files (review the diff: a changed vector is a changed protocol).
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  b64url,
  consistencyProof,
  fromHex,
  hex,
  inclusionProof,
  leafHash,
  memorySubtreeSource,
  messageHashB64,
  noteVerifierKey,
  rootOf,
  signCheckpoint,
} from '../protocol/index.js';
import { buildExampleLedger } from '../protocol/ledger-example.js';
import { verifyLedgerExport } from '../protocol/ledger-export.js';
import {
  EXAMPLE_KEYS,
  type ExampleKey,
  exampleAuctionResult,
  exampleCommandAck,
  exampleComplaint,
  exampleContractActivation,
  exampleContractCancellation,
  exampleContractClose,
  exampleDeregistrationRequest,
  exampleDispatchCommand,
  exampleDispatchResponse,
  exampleDispute,
  exampleEnergyContract,
  exampleFlexibilityContract,
  exampleFulfilment,
  exampleGapNote,
  exampleGatewayBinding,
  exampleGatewayStatus,
  exampleHubStatus,
  exampleMarketMatch,
  exampleMeterProof,
  exampleOperatorCredit,
  exampleParticipantApplication,
  examplePrices,
  exampleSettlement,
  exampleTelemetry,
  exampleValidatorDecision,
} from '../protocol/messages/examples.js';
import {
  AUCTION_RESULT_TYP,
  COMMAND_ACK_TYP,
  COMPLAINT_TYP,
  CONTRACT_ACTIVATION_TYP,
  CONTRACT_CANCELLATION_TYP,
  CONTRACT_CLOSE_TYP,
  CONTRACT_TYP,
  contractCompacts,
  contractIdOf,
  DEREGISTRATION_REQUEST_TYP,
  DISPATCH_COMMAND_TYP,
  DISPATCH_RESPONSE_TYP,
  DISPUTE_TYP,
  FULFILMENT_TYP,
  GAP_NOTE_TYP,
  GATEWAY_BINDING_TYP,
  GATEWAY_STATUS_TYP,
  HUB_STATUS_TYP,
  MARKET_MATCH_TYP,
  MESSAGE_TYPES,
  METER_PROOF_TYP,
  type MessageTyp,
  OPERATOR_CREDIT_TYP,
  ORDER_TYP,
  PARTICIPANT_APPLICATION_TYP,
  PRICE_TYP,
  SETTLEMENT_TYP,
  signContract,
  signMessage,
  TELEMETRY_TYP,
  VALIDATOR_DECISION_TYP,
  verifyMessage,
} from '../protocol/messages/index.js';
import { exampleOrder } from '../protocol/messages/order-example.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'vectors');
const K = EXAMPLE_KEYS;
const update = process.env.UPDATE_VECTORS === '1';

// ---------------------------------------------------------------------------------------------
// Generation (with Wattproof's own code)

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function keysVector() {
  return {
    description:
      'Example keys. secretKey = SHA-256(UTF-8("wattproof example key " + label)); publicKey = Ed25519 public key (RFC 8032); id = kind + "-" + base32lower(SHA-256(publicKey)[0:10]). Never use these keys for anything real.',
    keys: Object.values(K).map((k: ExampleKey) => ({
      label: k.label,
      kind: k.kind,
      secretKeyHex: hex(k.secretKey),
      publicKey: b64url.encode(k.publicKey),
      publicKeyHex: hex(k.publicKey),
      id: k.id,
    })),
    hubNoteVerifierKey: noteVerifierKey('example.wattproof.org/ledger', K.hub.publicKey),
  };
}

const CT = contractIdOf(
  signContract(
    signContract(exampleEnergyContract(), K.seller.id, K.seller.secretKey),
    K.buyer.id,
    K.buyer.secretKey,
  ),
);
const H = b64url.encode(createHash('sha256').update('example').digest());
const H2 = b64url.encode(createHash('sha256').update('example 2').digest());

function signed(typ: MessageTyp, key: ExampleKey, payload: unknown) {
  const compact = signMessage(typ, key.id, payload as never, key.secretKey);
  return {
    typ,
    kid: key.id,
    payload,
    compact,
    messageHash: messageHashB64(compact),
    leafHash: b64url.encode(leafHash(new TextEncoder().encode(compact))),
  };
}

function messagesVector() {
  return {
    description:
      'One signed message of every type. compact = BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(Ed25519 signature over the first two parts); messageHash = base64url(SHA-256(ASCII(compact))); leafHash = base64url(SHA-256(0x00 || ASCII(compact))).',
    messages: [
      signed(METER_PROOF_TYP, K.gatewayA, exampleMeterProof()),
      signed(TELEMETRY_TYP, K.gatewayA, exampleTelemetry()),
      signed(GATEWAY_STATUS_TYP, K.gatewayA, exampleGatewayStatus()),
      signed(FULFILMENT_TYP, K.gatewayA, exampleFulfilment(4, H, CT, [H])),
      signed(DISPATCH_RESPONSE_TYP, K.gatewayA, exampleDispatchResponse(3, H, H, CT)),
      signed(COMMAND_ACK_TYP, K.gatewayA, exampleCommandAck(H)),
      signed(CONTRACT_TYP, K.seller, exampleFlexibilityContract()),
      signed(VALIDATOR_DECISION_TYP, K.validator, exampleValidatorDecision(CT)),
      signed(GATEWAY_BINDING_TYP, K.hub, exampleGatewayBinding()),
      signed(GAP_NOTE_TYP, K.hub, exampleGapNote(5, 6)),
      signed(DISPATCH_COMMAND_TYP, K.hub, exampleDispatchCommand(CT)),
      signed(HUB_STATUS_TYP, K.hub, exampleHubStatus()),
      signed(PRICE_TYP, K.hub, examplePrices()),
      signed(ORDER_TYP, K.seller, exampleOrder()),
      signed(PARTICIPANT_APPLICATION_TYP, K.seller, exampleParticipantApplication()),
      signed(CONTRACT_CANCELLATION_TYP, K.buyer, exampleContractCancellation(CT)),
      signed(OPERATOR_CREDIT_TYP, K.hub, exampleOperatorCredit()),
      signed(CONTRACT_ACTIVATION_TYP, K.hub, exampleContractActivation(CT)),
      signed(SETTLEMENT_TYP, K.hub, exampleSettlement(CT, H)),
      signed(CONTRACT_CLOSE_TYP, K.hub, exampleContractClose(CT)),
      signed(AUCTION_RESULT_TYP, K.hub, exampleAuctionResult(H, H2)),
      signed(MARKET_MATCH_TYP, K.hub, exampleMarketMatch(H, H2, CT)),
      signed(DEREGISTRATION_REQUEST_TYP, K.seller, exampleDeregistrationRequest()),
      signed(DISPUTE_TYP, K.buyer, exampleDispute(CT, [H])),
      signed(COMPLAINT_TYP, K.buyer, exampleComplaint()),
    ],
  };
}

function chainVector() {
  const proofs: ReturnType<typeof signed>[] = [];
  for (let seq = 0; seq < 3; seq++) {
    const prev = seq === 0 ? null : (proofs[seq - 1]?.messageHash as string);
    proofs.push(signed(METER_PROOF_TYP, K.gatewayA, exampleMeterProof(seq, prev)));
  }
  return {
    description:
      'A gateway chain of three meter proofs: seq 0 has prev null; seq n has prev = messageHash of seq n-1.',
    gateway: K.gatewayA.id,
    publicKey: b64url.encode(K.gatewayA.publicKey),
    proofs,
  };
}

function contractVector() {
  const s = signContract(
    signContract(exampleEnergyContract(), K.seller.id, K.seller.secretKey),
    K.buyer.id,
    K.buyer.secretKey,
  );
  return {
    description:
      'A contract signed by both parties: JWS general JSON serialisation (RFC 7515 §7.2.1), seller first, buyer second; id = "ct-" + base64url(SHA-256(payload bytes)). compacts = the two compact JWS (one ledger leaf each).',
    contract: exampleEnergyContract(),
    signed: s,
    id: contractIdOf(s),
    compacts: contractCompacts(s),
  };
}

/** Certificate Transparency's reference leaves (RFC 6962 implementation tests). */
const MERKLE_LEAVES_HEX = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];

function merkleVector() {
  const hashes = MERKLE_LEAVES_HEX.map((h) => leafHash(fromHex(h)));
  const store = memorySubtreeSource(hashes);
  const sizes = [];
  for (let size = 1; size <= 8; size++) {
    const inclusion = [];
    for (let index = 0; index < size; index++)
      inclusion.push({
        leafIndex: index,
        treeSize: size,
        leafHash: b64url.encode(hashes[index] as Uint8Array),
        hashes: inclusionProof(index, size, store).map(b64url.encode),
      });
    const consistency = [];
    for (let first = 1; first <= size; first++)
      consistency.push({
        first,
        second: size,
        hashes: consistencyProof(first, size, store).map(b64url.encode),
      });
    sizes.push({ size, root: b64url.encode(rootOf(hashes.slice(0, size))), inclusion, consistency });
  }
  return {
    description:
      "RFC 6962 Merkle tree over the 8 leaves of Certificate Transparency's reference tests. leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right). Proofs in the JSON shape of docs/ledger.md; hashes base64url.",
    leavesHex: MERKLE_LEAVES_HEX,
    leafHashes: hashes.map(b64url.encode),
    sizes,
  };
}

function checkpointVector() {
  const hashes = MERKLE_LEAVES_HEX.map((h) => leafHash(fromHex(h)));
  const origin = 'example.wattproof.org/vectors';
  const note = signCheckpoint(
    { origin, size: 8, root: rootOf(hashes) },
    origin,
    K.hub.secretKey,
    K.hub.publicKey,
  );
  return {
    description:
      'A C2SP checkpoint (signed note) over the Merkle vector tree of size 8, signed by the example hub key. Key id = SHA-256(name || "\\n" || 0x01 || publicKey)[0:4]; the signature line is "— name base64(keyid || Ed25519 signature of the note text)".',
    origin,
    size: 8,
    root: b64url.encode(rootOf(hashes)),
    vkey: noteVerifierKey(origin, K.hub.publicKey),
    note,
  };
}

function allVectors(): Record<string, string> {
  const ledger = buildExampleLedger();
  return {
    'keys.json': json(keysVector()),
    'messages.json': json(messagesVector()),
    'chain.json': json(chainVector()),
    'contract.json': json(contractVector()),
    'merkle.json': json(merkleVector()),
    'checkpoint.json': json(checkpointVector()),
    'ledger-export/entries.jsonl': ledger.files.entries,
    'ledger-export/checkpoints.txt': ledger.files.checkpoints,
    'ledger-export/keys.json': ledger.files.keys,
  };
}

// ---------------------------------------------------------------------------------------------
// An independent verifier: node:crypto and the rules of docs/protocol.md, nothing of ours.

const sha256 = (...parts: (Buffer | Uint8Array | string)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const fromB64url = (s: string) => Buffer.from(s, 'base64url');

function verifyCompactIndependently(
  compact: string,
  publicKeyB64url: string,
): { typ: string; kid: string; payload: unknown } {
  const [h, p, s] = compact.split('.') as [string, string, string];
  const header = JSON.parse(fromB64url(h).toString('utf8')) as Record<string, unknown>;
  expect(Object.keys(header).sort()).toEqual(['alg', 'kid', 'typ']);
  expect(header.alg).toBe('EdDSA');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKeyB64url }, format: 'jwk' });
  expect(verify(null, Buffer.from(`${h}.${p}`, 'ascii'), key, fromB64url(s))).toBe(true);
  return {
    typ: String(header.typ),
    kid: String(header.kid),
    payload: JSON.parse(fromB64url(p).toString('utf8')),
  };
}

/** MTH of RFC 6962 §2.1, recursively, straight from the definition. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha256('');
  if (leaves.length === 1) return sha256(Buffer.of(0), leaves[0] as Buffer);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Buffer.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** PATH(m, D[n]) of RFC 6962 §2.1.1. */
function path6962(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k
    ? [...path6962(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...path6962(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

/** SUBPROOF(m, D[n], b) of RFC 6962 §2.1.2. */
function subproof(m: number, leaves: Buffer[], b: boolean): Buffer[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [mth(leaves)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m <= k
    ? [...subproof(m, leaves.slice(0, k), b), mth(leaves.slice(k))]
    : [...subproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))];
}

const publicKeyOfId = new Map(Object.values(K).map((k) => [k.id, b64url.encode(k.publicKey)]));

// ---------------------------------------------------------------------------------------------

describe('test vectors', () => {
  const vectors = allVectors();

  it(update ? 'rewrites the vector files' : 'match the files byte for byte', () => {
    for (const [name, text] of Object.entries(vectors)) {
      const file = path.join(dir, name);
      if (update) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, text);
      }
      expect(readFileSync(file, 'utf8'), `${name} differs from what the code generates`).toBe(text);
    }
  });

  it('regenerate identically (deterministic signatures and hashes)', () => {
    expect(allVectors()).toEqual(vectors);
  });

  it('keys: public keys and ids follow from the secret keys (node:crypto)', () => {
    const v = JSON.parse(vectors['keys.json'] as string) as ReturnType<typeof keysVector>;
    const base32 = (buf: Buffer) => {
      const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
      let bits = '';
      for (const byte of buf) bits += byte.toString(2).padStart(8, '0');
      let out = '';
      for (let i = 0; i + 5 <= bits.length; i += 5) out += alphabet[Number.parseInt(bits.slice(i, i + 5), 2)];
      return out;
    };
    for (const k of v.keys) {
      expect(k.secretKeyHex).toBe(sha256(`wattproof example key ${k.label}`).toString('hex'));
      // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410), so node:crypto derives the public key.
      const pkcs8 = Buffer.concat([
        Buffer.from('302e020100300506032b657004220420', 'hex'),
        Buffer.from(k.secretKeyHex, 'hex'),
      ]);
      const jwk = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({
        format: 'jwk',
      });
      expect(jwk.x).toBe(k.publicKey);
      expect(k.id).toBe(`${k.kind}-${base32(sha256(fromB64url(k.publicKey)).subarray(0, 10))}`);
    }
  });

  it('messages: every signature verifies with node:crypto; hashes are as stated; payloads pass the schemas', () => {
    const v = JSON.parse(vectors['messages.json'] as string) as ReturnType<typeof messagesVector>;
    const typs = new Set<string>();
    for (const m of v.messages) {
      const got = verifyCompactIndependently(m.compact, publicKeyOfId.get(m.kid) as string);
      expect(got).toEqual({ typ: m.typ, kid: m.kid, payload: m.payload });
      expect(m.messageHash).toBe(sha256(Buffer.from(m.compact, 'ascii')).toString('base64url'));
      expect(m.leafHash).toBe(sha256(Buffer.of(0), Buffer.from(m.compact, 'ascii')).toString('base64url'));
      const ours = verifyMessage(m.compact, {
        publicKeyFor: (kid) => (publicKeyOfId.has(kid) ? fromB64url(publicKeyOfId.get(kid)!) : undefined),
      });
      expect(ours.ok, m.typ).toBe(true);
      typs.add(m.typ);
    }
    // Every registered type has a vector.
    expect([...typs].sort()).toEqual(Object.keys(MESSAGE_TYPES).sort());
  });

  it('chain: three proofs, each prev the hash of the one before', () => {
    const v = JSON.parse(vectors['chain.json'] as string) as ReturnType<typeof chainVector>;
    let prev: string | null = null;
    v.proofs.forEach((p, seq) => {
      const { payload } = verifyCompactIndependently(p.compact, v.publicKey) as {
        payload: { seq: number; prev: string | null };
      };
      expect(payload.seq).toBe(seq);
      expect(payload.prev).toBe(prev);
      prev = sha256(Buffer.from(p.compact, 'ascii')).toString('base64url');
    });
  });

  it('contract: both signatures verify over the same payload; the id is its hash', () => {
    const v = JSON.parse(vectors['contract.json'] as string) as ReturnType<typeof contractVector>;
    const [seller, buyer] = v.signed.signatures;
    for (const [sig, key] of [
      [seller, K.seller],
      [buyer, K.buyer],
    ] as const) {
      const compact = `${sig?.protected}.${v.signed.payload}.${sig?.signature}`;
      const got = verifyCompactIndependently(compact, b64url.encode(key.publicKey));
      expect(got.kid).toBe(key.id);
      expect(got.payload).toEqual(v.contract);
    }
    expect(v.id).toBe(`ct-${sha256(fromB64url(v.signed.payload)).toString('base64url')}`);
  });

  it('merkle: roots, inclusion and consistency proofs equal RFC 6962 computed from the definition', () => {
    const v = JSON.parse(vectors['merkle.json'] as string) as ReturnType<typeof merkleVector>;
    const leaves = v.leavesHex.map((h) => Buffer.from(h, 'hex'));
    expect(v.sizes.at(-1)?.root).toBe(
      Buffer.from('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328', 'hex').toString(
        'base64url',
      ),
    );
    for (const s of v.sizes) {
      const tree = leaves.slice(0, s.size);
      expect(s.root).toBe(mth(tree).toString('base64url'));
      for (const p of s.inclusion)
        expect(p.hashes).toEqual(path6962(p.leafIndex, tree).map((b) => b.toString('base64url')));
      for (const p of s.consistency)
        expect(p.hashes).toEqual(subproof(p.first, tree, true).map((b) => b.toString('base64url')));
    }
  });

  it('checkpoint: the note signature verifies with node:crypto; the root is the tree of size 8', () => {
    const v = JSON.parse(vectors['checkpoint.json'] as string) as ReturnType<typeof checkpointVector>;
    const [text, sigLine] = v.note.split('\n\n') as [string, string];
    expect(text).toBe(`${v.origin}\n8\n${fromB64url(v.root).toString('base64')}`);
    const [name, keyB64] = v.vkey.split('+').filter((_, i) => i !== 1) as [string, string];
    const pub = Buffer.from(keyB64, 'base64').subarray(1);
    const keyId = sha256(`${name}\n`, Buffer.of(1), pub).subarray(0, 4);
    expect(sigLine.startsWith(`\u2014 ${name} `)).toBe(true);
    const blob = Buffer.from(sigLine.trim().split(' ')[2] as string, 'base64');
    expect(blob.subarray(0, 4)).toEqual(keyId);
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url') },
      format: 'jwk',
    });
    expect(verify(null, Buffer.from(`${text}\n`), key, blob.subarray(4))).toBe(true);
  });

  it('ledger-export: the example export verifies', () => {
    const files = {
      entries: vectors['ledger-export/entries.jsonl'] as string,
      checkpoints: vectors['ledger-export/checkpoints.txt'] as string,
      keys: vectors['ledger-export/keys.json'] as string,
    };
    expect(verifyLedgerExport(files)).toMatchObject({ ok: true, entries: 14 });
  });

  it('docs/protocol.md and docs/ledger.md quote the vectors as they are', () => {
    const docs = path.join(dir, '..', '..', 'docs');
    const protocolMd = readFileSync(path.join(docs, 'protocol.md'), 'utf8');
    const ledgerMd = readFileSync(path.join(docs, 'ledger.md'), 'utf8');
    const m = (JSON.parse(vectors['messages.json'] as string) as ReturnType<typeof messagesVector>)
      .messages[0]!;
    expect(protocolMd.replace(/\n(?=[A-Za-z0-9_.-])/g, '')).toContain(m.compact);
    expect(protocolMd).toContain(m.messageHash);
    expect(protocolMd).toContain(m.leafHash);
    expect(protocolMd).toContain(new TextDecoder().decode(fromB64url(m.compact.split('.')[1] as string)));
    const cp = JSON.parse(vectors['checkpoint.json'] as string) as ReturnType<typeof checkpointVector>;
    expect(protocolMd).toContain(cp.note);
    expect(protocolMd).toContain(cp.vkey);
    const mk = JSON.parse(vectors['merkle.json'] as string) as ReturnType<typeof merkleVector>;
    expect(protocolMd).toContain(JSON.stringify(mk.sizes[4]?.inclusion[2]));
    expect(protocolMd).toContain(JSON.stringify(mk.sizes[4]?.consistency[1]));
    for (const p of (JSON.parse(vectors['chain.json'] as string) as ReturnType<typeof chainVector>).proofs)
      expect(protocolMd).toContain(p.messageHash);
    const ct = JSON.parse(vectors['contract.json'] as string) as ReturnType<typeof contractVector>;
    expect(protocolMd).toContain(ct.id);
    expect(ledgerMd).toContain(vectors['ledger-export/entries.jsonl']?.split('\n')[0]);
    expect(ledgerMd).toContain(vectors['ledger-export/keys.json']);
  });

  it('the Node example of docs/protocol.md verifies the vector meter proof', () => {
    const protocolMd = readFileSync(path.join(dir, '..', '..', 'docs', 'protocol.md'), 'utf8');
    const code = protocolMd.slice(protocolMd.indexOf('## 12.')).match(/```js\n([\s\S]*?)```/)?.[1];
    expect(code).toBeDefined();
    const tmp = mkdtempSync(path.join(tmpdir(), 'wattproof-doc-'));
    try {
      const file = path.join(tmp, 'verify.mjs');
      writeFileSync(file, code as string);
      const m = (JSON.parse(vectors['messages.json'] as string) as ReturnType<typeof messagesVector>)
        .messages[0]!;
      const out = execFileSync(process.execPath, [file, m.compact], { encoding: 'utf8' });
      expect(out).toContain('ok: true');
      expect(out).toContain(m.messageHash);
      expect(out).toContain(m.leafHash);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
