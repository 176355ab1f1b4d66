// Every message type: its example parses, and each of its cross-field rules refuses with the
// field named. Plus the registry: signMessage, verifyMessage, continuesChain.
import { describe, expect, it } from 'vitest';
import { messageHashB64 } from '../chain.js';
import { signJws } from '../jws.js';
import { parseCommandAck } from './command-ack.js';
import { formatIssues, parseWith, reason } from './common.js';
import { parseDispatchCommand } from './dispatch-command.js';
import { parseDispatchResponse } from './dispatch-response.js';
import {
  EXAMPLE_KEYS,
  EXAMPLE_T0,
  exampleCommandAck,
  exampleDispatchCommand,
  exampleDispatchResponse,
  exampleFulfilment,
  exampleGapNote,
  exampleGatewayBinding,
  exampleGatewayStatus,
  exampleHubStatus,
  exampleMeterProof,
  examplePrices,
  exampleTelemetry,
  exampleValidatorDecision,
} from './examples.js';
import { fulfilmentOutcome, parseFulfilmentEvent } from './fulfilment.js';
import { parseGapNote } from './gap-note.js';
import { parseGatewayBinding } from './gateway-binding.js';
import { parseGatewayStatus } from './gateway-status.js';
import { parseHubStatus } from './hub-status.js';
import {
  CHAINED_TYPS,
  continuesChain,
  isMessageTyp,
  MESSAGE_TYPES,
  parsePayload,
  signMessage,
  verifyMessage,
} from './index.js';
import { METER_PROOF_TYP } from './meter-proof.js';
import { parsePricePublication } from './price.js';
import { checkpointSizeOf, parseReceipt } from './receipt.js';
import { parseTelemetryBatch } from './telemetry.js';
import { parseValidatorDecision } from './validator-decision.js';

const H = (c: string) => c.repeat(42) + 'A';
const CT = `ct-${H('c')}`;
const K = EXAMPLE_KEYS;

type Parser = (p: unknown) => { ok: true } | { ok: false; issues: { path: string; message: string }[] };
function paths(parse: Parser, payload: unknown): string[] {
  const r = parse(payload);
  return r.ok ? [] : r.issues.map((i) => i.path);
}

describe('telemetry batch', () => {
  it('accepts the example; refuses unordered samples, fractions, bad scale, too many', () => {
    expect(parseTelemetryBatch(exampleTelemetry()).ok).toBe(true);
    const t = exampleTelemetry();
    const s0 = t.samples[0]!;
    expect(paths(parseTelemetryBatch, { ...t, samples: [{ ...s0, t: s0.t + 5 }, s0] })).toEqual([
      'samples[1].t',
    ]);
    expect(paths(parseTelemetryBatch, { ...t, samples: [{ ...s0, value: 0.5 }] })).toEqual([
      'samples[0].value',
    ]);
    expect(paths(parseTelemetryBatch, { ...t, samples: [{ ...s0, scale: 11 }] })).toEqual([
      'samples[0].scale',
    ]);
    const many = Array.from({ length: 1001 }, () => s0);
    const r = parseTelemetryBatch({ ...t, samples: many });
    expect(!r.ok && r.issues[0]?.message).toBe('must hold at most 1000 samples');
  });
});

describe('gateway status', () => {
  it('accepts online and offline; refuses other states and missing fields', () => {
    expect(parseGatewayStatus(exampleGatewayStatus()).ok).toBe(true);
    expect(parseGatewayStatus({ ...exampleGatewayStatus(), state: 'offline' }).ok).toBe(true);
    expect(paths(parseGatewayStatus, { ...exampleGatewayStatus(), state: 'sleeping' })).toEqual(['state']);
    const { configHash: _, ...rest } = exampleGatewayStatus();
    expect(paths(parseGatewayStatus, rest)).toEqual(['configHash']);
  });
});

describe('fulfilment event', () => {
  const ok = exampleFulfilment(3, H('p'), CT, [H('a'), H('b')]);
  it('derives the outcome from the numbers', () => {
    expect(fulfilmentOutcome(100, 100)).toBe('fulfilled');
    expect(fulfilmentOutcome(100, 120)).toBe('fulfilled');
    expect(fulfilmentOutcome(100, 1)).toBe('partial');
    expect(fulfilmentOutcome(100, 0)).toBe('failed');
    expect(fulfilmentOutcome(0, 0)).toBe('fulfilled');
  });
  it('accepts the example; refuses a wrong outcome, duplicate proofs, early signing, bad window', () => {
    expect(parseFulfilmentEvent(ok).ok).toBe(true);
    const r = parseFulfilmentEvent({ ...ok, outcome: 'fulfilled' });
    expect(!r.ok && r.issues).toEqual([
      { path: 'outcome', message: 'must be "partial" for contractedWh 1600 and measuredWh 1260' },
    ]);
    expect(paths(parseFulfilmentEvent, { ...ok, proofs: [H('a'), H('a')] })).toEqual(['proofs[1]']);
    expect(paths(parseFulfilmentEvent, { ...ok, signedAt: ok.window.end - 1 })).toEqual(['signedAt']);
    expect(paths(parseFulfilmentEvent, { ...ok, window: { start: 5, end: 5 }, signedAt: 9 })).toEqual([
      'window.end',
    ]);
    expect(paths(parseFulfilmentEvent, { ...ok, contract: 'ct-short' })).toEqual(['contract']);
  });
});

describe('dispatch command and response', () => {
  const cmd = exampleDispatchCommand(CT);
  it('accepts the example command; refuses bad times and huge setpoints', () => {
    expect(parseDispatchCommand(cmd).ok).toBe(true);
    expect(paths(parseDispatchCommand, { ...cmd, end: cmd.start })).toEqual(['end', 'expires']);
    expect(paths(parseDispatchCommand, { ...cmd, expires: cmd.issuedAt })).toEqual(['expires']);
    expect(paths(parseDispatchCommand, { ...cmd, expires: cmd.end + 1 })).toEqual(['expires']);
    expect(paths(parseDispatchCommand, { ...cmd, setpointW: 100_000_001 })).toEqual(['setpointW']);
    expect(paths(parseDispatchCommand, { ...cmd, setpointW: -100_000_001 })).toEqual(['setpointW']);
    expect(paths(parseDispatchCommand, { ...cmd, nonce: 'short' })).toEqual(['nonce']);
  });
  it('applied needs appliedW and no reason; refused needs a reason and no powers', () => {
    const res = exampleDispatchResponse(4, H('p'), H('c'), CT);
    expect(parseDispatchResponse(res).ok).toBe(true);
    expect(paths(parseDispatchResponse, { ...res, appliedW: undefined })).toEqual(['appliedW']);
    const why = { code: 'soc-below-minimum', message: 'state of charge 8 % is below the 10 % floor' };
    expect(paths(parseDispatchResponse, { ...res, reason: why })).toEqual(['reason']);
    const refused = { ...res, outcome: 'refused', reason: why, appliedW: undefined, measuredW: undefined };
    expect(parseDispatchResponse(refused).ok).toBe(true);
    expect(paths(parseDispatchResponse, { ...refused, reason: undefined })).toEqual(['reason']);
    expect(paths(parseDispatchResponse, { ...refused, appliedW: 1, measuredW: 1 })).toEqual([
      'appliedW',
      'measuredW',
    ]);
  });
});

describe('command ack', () => {
  it('a refusal names its reason', () => {
    const ack = exampleCommandAck(H('c'));
    expect(parseCommandAck(ack).ok).toBe(true);
    expect(paths(parseCommandAck, { ...ack, accepted: false })).toEqual(['reason']);
    expect(
      parseCommandAck({ ...ack, accepted: false, reason: { code: 'expired', message: 'too late' } }).ok,
    ).toBe(true);
  });
  it('reason codes are kebab-case', () => {
    expect(parseWith(reason, { code: 'Bad_Code', message: 'x' }).ok).toBe(false);
  });
});

describe('receipt', () => {
  const cp = 'example.org/log\n5\nAAAA\n\n— example.org/log abc\n';
  const accepted = {
    status: 'accepted',
    gw: K.gatewayA.id,
    seq: 3,
    messageHash: H('m'),
    index: 4,
    leafHash: H('l'),
    checkpoint: cp,
    inclusionProof: [H('a'), H('b')],
  };
  it('accepts accepted, duplicate and rejected receipts', () => {
    expect(parseReceipt(accepted).ok).toBe(true);
    expect(parseReceipt({ ...accepted, status: 'duplicate' }).ok).toBe(true);
    const rejected = {
      status: 'rejected',
      gw: K.gatewayA.id,
      messageHash: H('m'),
      reason: 'bad-signature',
      detail: 'x',
    };
    expect(parseReceipt(rejected).ok).toBe(true);
    expect(paths(parseReceipt, { ...rejected, index: 3 })).toEqual(['']);
  });
  it('needs a checkpoint that covers the index', () => {
    expect(checkpointSizeOf(cp)).toBe(5);
    expect(checkpointSizeOf('o\n05\n')).toBeUndefined();
    expect(checkpointSizeOf('o')).toBeUndefined();
    expect(paths(parseReceipt, { ...accepted, index: 5 })).toEqual(['checkpoint']);
    expect(paths(parseReceipt, { ...accepted, checkpoint: 'nonsense' })).toEqual(['checkpoint']);
    expect(paths(parseReceipt, { ...accepted, status: 'lost' })).toEqual(['status']);
  });
});

describe('hub status and prices', () => {
  it('accepts the examples', () => {
    expect(parseHubStatus(exampleHubStatus()).ok).toBe(true);
    expect(parseHubStatus(exampleHubStatus('o\n1\nAAAA\n')).ok).toBe(true);
    expect(parsePricePublication(examplePrices()).ok).toBe(true);
  });
  it('prices need aligned, ordered intervals and an ISO currency', () => {
    const p = examplePrices();
    const [a, b] = p.intervals as [(typeof p.intervals)[0], (typeof p.intervals)[0]];
    expect(paths(parsePricePublication, { ...p, intervals: [b, a] })).toEqual(['intervals[1].start']);
    expect(paths(parsePricePublication, { ...p, intervals: [{ ...a, start: a.start + 1 }] })).toEqual([
      'intervals[0]',
    ]);
    expect(paths(parsePricePublication, { ...p, currency: 'eur' })).toEqual(['currency']);
  });
});

describe('validator decision', () => {
  const d = exampleValidatorDecision(CT);
  it('accepts the example and every kind with an allowed outcome', () => {
    expect(parseValidatorDecision(d).ok).toBe(true);
    expect(parseValidatorDecision({ ...d, kind: 'registration', subject: K.seller.id }).ok).toBe(true);
    expect(parseValidatorDecision({ ...d, kind: 'dispute', outcome: 'upheld' }).ok).toBe(true);
  });
  it('refuses outcomes foreign to the kind, refusals without reasons, adjustments out of place', () => {
    const r = parseValidatorDecision({ ...d, outcome: 'upheld' });
    expect(!r.ok && r.issues[0]).toEqual({
      path: 'outcome',
      message: 'a contract-review decision is "approved" or "refused" or "queued", not "upheld"',
    });
    expect(paths(parseValidatorDecision, { ...d, outcome: 'refused' })).toEqual(['reasons']);
    const why = [{ code: 'line-overload', message: 'line 3-4 would carry 120 % of its limit' }];
    expect(
      paths(parseValidatorDecision, { ...d, kind: 'congestion', outcome: 'adjusted', reasons: why }),
    ).toEqual(['adjustments']);
    const adj = [
      { contract: CT, interval: { start: EXAMPLE_T0, end: EXAMPLE_T0 + 900_000 }, quantityWh: 200 },
    ];
    expect(
      parseValidatorDecision({
        ...d,
        kind: 'congestion',
        outcome: 'adjusted',
        reasons: why,
        adjustments: adj,
      }).ok,
    ).toBe(true);
    expect(paths(parseValidatorDecision, { ...d, adjustments: adj })).toEqual(['adjustments']);
    const badAdj = [{ ...adj[0], interval: { start: 5, end: 1 } }];
    expect(
      paths(parseValidatorDecision, {
        ...d,
        kind: 'congestion',
        outcome: 'adjusted',
        reasons: why,
        adjustments: badAdj,
      }),
    ).toEqual(['adjustments[0].interval.end']);
    expect(paths(parseValidatorDecision, { ...d, subject: 'anything' })).toEqual(['subject']);
  });
});

describe('ledger entries of the hub', () => {
  it('a gateway binding must name the id derived from its key', () => {
    expect(parseGatewayBinding(exampleGatewayBinding()).ok).toBe(true);
    const wrong = { ...exampleGatewayBinding(), gw: K.gatewayB.id };
    const r = parseGatewayBinding(wrong);
    expect(!r.ok && r.issues).toEqual([
      { path: 'gw', message: 'is not the gateway id derived from publicKey' },
    ]);
  });
  it('a gap note runs from ≤ to', () => {
    expect(parseGapNote(exampleGapNote(3, 3)).ok).toBe(true);
    expect(paths(parseGapNote, exampleGapNote(4, 3))).toEqual(['to']);
  });
});

describe('the message registry', () => {
  it('knows every typ and which are chained', () => {
    expect(isMessageTyp(METER_PROOF_TYP)).toBe(true);
    expect(isMessageTyp('wattproof.nothing.v1')).toBe(false);
    expect(isMessageTyp('toString')).toBe(false);
    expect([...CHAINED_TYPS].sort()).toEqual([
      'wattproof.dispatch-response.v1',
      'wattproof.fulfilment.v1',
      'wattproof.meter-proof.v1',
    ]);
    for (const typ of Object.keys(MESSAGE_TYPES)) expect(typ).toMatch(/^wattproof\.[a-z-]+\.v1$/);
    expect(parsePayload(METER_PROOF_TYP, exampleMeterProof()).ok).toBe(true);
  });

  it('signMessage refuses an invalid payload or a key of the wrong kind, naming why', () => {
    const bad = { ...exampleMeterProof(), seq: -1 };
    expect(() => signMessage(METER_PROOF_TYP, K.gatewayA.id, bad, K.gatewayA.secretKey)).toThrow(
      /refusing to sign an invalid wattproof.meter-proof.v1: seq: must be an integer ≥ 0/,
    );
    expect(() => signMessage(METER_PROOF_TYP, K.seller.id, exampleMeterProof(), K.seller.secretKey)).toThrow(
      /signed by a gw- key/,
    );
  });

  const keys = (kid: string) => Object.values(K).find((k) => k.id === kid)?.publicKey;

  it('verifyMessage accepts a signed message and gives its typed payload and hash', () => {
    const jws = signMessage(METER_PROOF_TYP, K.gatewayA.id, exampleMeterProof(), K.gatewayA.secretKey);
    const v = verifyMessage(jws, { publicKeyFor: keys });
    expect(v.ok).toBe(true);
    if (v.ok && v.typ === METER_PROOF_TYP) {
      expect(v.payload.meter.serial).toBe('SN-1029384');
      expect(v.hash).toBe(messageHashB64(jws));
    }
  });

  it('verifyMessage refuses with its own reason each way a message can be wrong', () => {
    const reasonOf = (jws: string) => {
      const v = verifyMessage(jws, { publicKeyFor: keys });
      return v.ok ? 'ok' : v.reason;
    };
    const gw = K.gatewayA;
    expect(reasonOf(signJws('wattproof.unknown.v1', gw.id, {}, gw.secretKey))).toBe('typ-unknown');
    expect(reasonOf(signJws(METER_PROOF_TYP, K.hub.id, exampleMeterProof(), K.hub.secretKey))).toBe(
      'signer-kind',
    );
    expect(
      reasonOf(signJws(METER_PROOF_TYP, gw.id, { ...exampleMeterProof(), seq: 1.5 }, gw.secretKey)),
    ).toBe('schema');
    const other = { ...exampleMeterProof(), gw: K.gatewayB.id };
    expect(reasonOf(signJws(METER_PROOF_TYP, gw.id, other, gw.secretKey))).toBe('gw-mismatch');
    const jws = signJws(METER_PROOF_TYP, gw.id, exampleMeterProof(), gw.secretKey);
    expect(reasonOf(`${jws.slice(0, -2)}AA`)).toBe('bad-signature');
    const schema = verifyMessage(
      signJws(METER_PROOF_TYP, gw.id, { ...exampleMeterProof(), x: 1 }, gw.secretKey),
      {
        publicKeyFor: keys,
      },
    );
    expect(!schema.ok && schema.issues?.[0]?.message).toMatch(/unknown field "x"/);
  });

  it('continuesChain: genesis, next, gap, replay, wrong prev', () => {
    expect(continuesChain(null, null, { gw: K.gatewayA.id, seq: 0, prev: null })).toEqual({ ok: true });
    expect(continuesChain(H('a'), 4, { gw: K.gatewayA.id, seq: 5, prev: H('a') })).toEqual({ ok: true });
    const r = (seq: number, prev: string | null) => {
      const c = continuesChain(H('a'), 4, { gw: K.gatewayA.id, seq, prev });
      return c.ok ? 'ok' : c.reason;
    };
    expect(r(7, H('a'))).toBe('gap');
    expect(r(4, H('a'))).toBe('replay-or-fork');
    expect(r(5, H('b'))).toBe('prev-mismatch');
  });

  it('formats issues for logs', () => {
    expect(
      formatIssues([
        { path: '', message: 'a' },
        { path: 'x.y', message: 'b' },
      ]),
    ).toBe('(payload): a; x.y: b');
  });
});
