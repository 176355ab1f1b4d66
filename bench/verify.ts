// The verify ceiling: how many Ed25519 signatures one core checks per second with node:crypto and
// cached KeyObjects (the physical limit the hub's ingest is held to), beside @noble/ed25519 and
// beside the protocol's full checks with node:crypto injected (what the hub runs per message), so
// the ratio shows what our own checks cost on top of the signature.
//   npm run bench -- verify        (or: node --import tsx bench/verify.ts [--quick])
import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { Ed25519Verifier } from '../hub/crypto/fast-verify.js';
import { gatewayIdOf, signBytes, verifyBytes } from '../protocol/index.js';
import { METER_PROOF_TYP, verifyMessage } from '../protocol/messages/index.js';
import { BenchGateway, newKey } from './lib/fleet.js';
import { benchMode, opsPerSecond, printHeader, printNote, printTable, type ResultRow } from './lib/report.js';

const mode = benchMode();
printHeader('Verify ceiling: Ed25519 and JWS checks on one core', mode, 'node --import tsx bench/verify.ts');

const GATEWAYS = 64;
const PER_GATEWAY = 16;
const gateways = Array.from({ length: GATEWAYS }, () => new BenchGateway());
interface Sample {
  gw: BenchGateway;
  jws: string;
  input: Buffer;
  sig: Buffer;
  pub: KeyObject;
}
const samples: Sample[] = [];
for (const gw of gateways) {
  const pub = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(gw.key.publicKey).toString('base64url') },
    format: 'jwk',
  });
  for (let i = 0; i < PER_GATEWAY; i++) {
    const jws = gw.nextProof();
    const [h, p, s] = jws.split('.') as [string, string, string];
    samples.push({
      gw,
      jws,
      input: Buffer.from(`${h}.${p}`, 'ascii'),
      sig: Buffer.from(s, 'base64url'),
      pub,
    });
  }
}
// Interleave gateways, as messages arrive at a hub.
samples.sort((a, b) => a.input.length - b.input.length || a.jws.localeCompare(b.jws));
const pick = (i: number): Sample => samples[i % samples.length] as Sample;

const timing = mode.quick ? { batch: 20, minMs: 30, runs: 1 } : { batch: 200, minMs: 1500, runs: 5 };
const runs = timing.runs;
const rawPub = new Map(gateways.map((g) => [g.id, g.key.publicKey]));

// Every path must accept the samples: a bench of a verifier that says no is no bench.
const fast = new Ed25519Verifier();
for (const s of samples.slice(0, 8)) {
  const opts = { typ: METER_PROOF_TYP, kid: s.gw.id, publicKeyFor: (k: string) => rawPub.get(k) };
  if (
    !verify(null, s.input, s.pub, s.sig) ||
    !verifyBytes(s.sig, s.input, s.gw.key.publicKey) ||
    !fast.verifyJws(s.jws, opts).ok ||
    !verifyMessage(s.jws, { ...opts, verifySignature: fast.verifyBytes }).ok
  ) {
    throw new Error('a verifier refused a valid sample');
  }
}

const raw = opsPerSecond((i) => {
  const s = pick(i);
  if (!verify(null, s.input, s.pub, s.sig)) throw new Error('verify failed');
}, timing);
const noble = opsPerSecond(
  (i) => {
    const s = pick(i);
    if (!verifyBytes(s.sig, s.input, s.gw.key.publicKey)) throw new Error('verify failed');
  },
  { ...timing, batch: Math.max(5, Math.floor(timing.batch / 10)) },
);
const jws = opsPerSecond((i) => {
  const s = pick(i);
  const r = fast.verifyJws(s.jws, {
    typ: METER_PROOF_TYP,
    kid: s.gw.id,
    publicKeyFor: (k) => rawPub.get(k),
  });
  if (!r.ok) throw new Error(r.detail);
}, timing);
const message = opsPerSecond((i) => {
  const s = pick(i);
  const r = verifyMessage(s.jws, {
    typ: METER_PROOF_TYP,
    kid: s.gw.id,
    publicKeyFor: (k) => rawPub.get(k),
    verifySignature: fast.verifyBytes,
  });
  if (!r.ok) throw new Error(r.detail);
}, timing);

// Signing, for the gateway side (the agent signs with @noble/ed25519).
const signer = newKey(gatewayIdOf);
const signInputs = samples.map((s) => s.input);
const rawSign = opsPerSecond((i) => {
  sign(null, signInputs[i % signInputs.length] as Buffer, signer.privateKey);
}, timing);
const nobleSign = opsPerSecond(
  (i) => {
    signBytes(signInputs[i % signInputs.length] as Buffer, signer.secretKey);
  },
  { ...timing, batch: Math.max(5, Math.floor(timing.batch / 10)) },
);

const ref = 'node:crypto verify, cached KeyObject';
const bytes = Math.round(samples.reduce((n, s) => n + s.jws.length, 0) / samples.length);
const rows: ResultRow[] = [
  { what: ref, value: raw, unit: 'verifies/s', runs, reference: ref, referenceValue: raw },
  {
    what: '@noble/ed25519 verify (protocol verifyBytes)',
    value: noble,
    unit: 'verifies/s',
    runs,
    reference: ref,
    referenceValue: raw,
  },
  {
    what: 'protocol verifyJws + node:crypto (Ed25519Verifier)',
    value: jws,
    unit: 'JWS/s',
    runs,
    reference: ref,
    referenceValue: raw,
    note: 'base64url and canonical-JSON checks, header fields, typ, kid, then the signature',
  },
  {
    what: 'protocol verifyMessage + node:crypto (hub ingest check)',
    value: message,
    unit: 'messages/s',
    runs,
    reference: ref,
    referenceValue: raw,
    note: 'verifyJws plus the meter-proof zod schema and gw = kid',
  },
  { what: 'node:crypto sign', value: rawSign, unit: 'signs/s', runs, reference: ref, referenceValue: raw },
  {
    what: '@noble/ed25519 sign (agent)',
    value: nobleSign,
    unit: 'signs/s',
    runs,
    reference: ref,
    referenceValue: raw,
  },
];
printTable(rows);
printNote(
  `${samples.length} distinct meter proofs (${bytes} bytes each on average) from ${GATEWAYS} gateways; rates per CPU-second of one core. ` +
    `Our checks around the signature leave ${Math.round((message / raw) * 100)}% of the raw verify rate.`,
);
