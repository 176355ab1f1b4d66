// The Validator service's signed decisions, and verifyValidatorDecisions: an honest log holds; a
// validly signed decision whose content does not follow from the policy and the state is flagged.
import { beforeAll, describe, expect, it } from 'vitest';
import { b64url, signJws } from '../../protocol/index.js';
import { EXAMPLE_T0, exampleKey } from '../../protocol/messages/examples.js';
import {
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
  verifyMessage,
} from '../../protocol/messages/index.js';
import type { LogBuilder } from '../contracts/log-builder.js';
import { decideCongestion } from './congestion/decision.js';
import { gridModelHash } from './congestion/grid-model.js';
import type { Highs } from './congestion/lp.js';
import { loadSolver } from './congestion/lp.js';
import { congestionRequestFromState, prepareCongestion } from './congestion-state.js';
import {
  activeWorld,
  appliedWorld,
  CFG,
  compliantContract,
  deliver,
  fold,
  K,
  makeValidator,
  POLICY,
  POLICY_INPUT,
  propose,
  Q,
  registeredWorld,
  runValidator,
  T_APPLY,
  T_REVIEW,
  triangleGrid,
} from './fixtures.js';
import { parsePolicy, policyHashOf } from './policy.js';
import { reviewInputsHash, Validator, ValidatorError } from './validator.js';
import { verifyValidatorDecisions } from './verify-decisions.js';

let highs: Highs;
beforeAll(async () => {
  highs = await loadSolver();
});

const verify = (b: LogBuilder, grid = triangleGrid(), policies = [POLICY]) =>
  verifyValidatorDecisions(b.entries, policies, grid, { config: CFG, highs });

/** Signs a decision with the validator's key as if the validator had made it (policy hash and all). */
function forge(b: LogBuilder, d: Omit<ValidatorDecision, 'policyHash' | 'stateSize' | 'inputsHash'>) {
  const stateSize = b.entries.length;
  const policyHash = policyHashOf(POLICY);
  const payload: ValidatorDecision = {
    ...d,
    inputsHash: reviewInputsHash(d.kind, d.subject, policyHash, stateSize),
    policyHash,
    stateSize,
  };
  return b.appendSigned(signJws(VALIDATOR_DECISION_TYP, K.validator.id, payload, K.validator.secretKey));
}

describe('Validator: signed decisions', () => {
  it('decides both applications with its own key, the policy hash and the state size', () => {
    const v = makeValidator();
    expect(v.kid).toBe(K.validator.id);
    const b = appliedWorld();
    const ds = v.review(fold(b), T_APPLY + 2);
    expect(ds.map((d) => [d.decision.kind, d.decision.subject, d.decision.outcome])).toEqual([
      ['registration', K.seller.id, 'approved'],
      ['registration', K.buyer.id, 'approved'],
    ]);
    for (const d of ds) {
      const checked = verifyMessage(d.compact, {
        typ: VALIDATOR_DECISION_TYP,
        publicKeyFor: (kid) => (kid === K.validator.id ? K.validator.publicKey : undefined),
      });
      expect(checked.ok).toBe(true);
      expect(checked.ok && checked.header.kid).toBe(K.validator.id);
      expect(d.decision).toMatchObject({ policyHash: policyHashOf(POLICY), stateSize: 4, at: T_APPLY + 2 });
    }
    // Any other key fails the signature check.
    const tampered = ds[0]?.compact.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) as string;
    expect(
      verifyMessage(tampered, {
        typ: VALIDATOR_DECISION_TYP,
        publicKeyFor: () => K.validator.publicKey,
      }).ok,
    ).toBe(false);
  });

  it('queues a case for a person, who then decides it; verify counts that as a judgement', () => {
    const v = makeValidator();
    const b = appliedWorld(false); // unsigned entries: the third key is not an example key
    // A third applicant: a utility, which the policy always sends to a person.
    const util = exampleKey('utility-1', 'pt');
    b.application(util, {
      role: 'utility',
      energies: ['electricity'],
      region: 'north',
      gridNode: 'bus-2',
      gateways: [],
      capacityW: 5_000_000,
      at: T_APPLY + 1,
    });
    runValidator(b, v, T_APPLY + 2);
    let s = fold(b);
    expect(s.registry.participants[util.id]).toMatchObject({
      status: 'pending',
      queued: { reasons: [{ code: 'human-review-role' }] },
    });
    // Asked again, the validator does not decide a queued case by itself.
    expect(v.review(s, T_APPLY + 3)).toEqual([]);
    b.appendSigned(v.decideQueued(s, 'registration', util.id, 'approved', [], T_APPLY + 4).compact);
    s = fold(b);
    expect(s.registry.participants[util.id]?.status).toBe('approved');
    expect(s.registry.participants[util.id]?.queued).toBeNull();
    expect(() => v.decideQueued(s, 'registration', util.id, 'approved', [], T_APPLY + 5)).toThrow(
      /not queued/,
    );
    const r = verify(b);
    expect(r).toMatchObject({ ok: true, checked: 3, judgements: 1 });
  });
});

describe('verifyValidatorDecisions', () => {
  it('an honest log holds: registrations, a contract review, a deregistration on request', () => {
    const { b, id, v } = activeWorld();
    deliver(b, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    b.deregistrationRequest(K.buyer.id, EXAMPLE_T0 + 5 * Q);
    runValidator(b, v, EXAMPLE_T0 + 5 * Q + 1);
    const r = verify(b);
    expect(r.failure).toBeUndefined();
    // 2 registrations + 1 contract review + 1 deregistration answering a request.
    expect(r).toMatchObject({ ok: true, checked: 4, judgements: 0, skipped: [], warnings: [] });
    // The buyer left after the window ended: the contract stops at its end and settles in full.
    expect(fold(b).contracts[id]?.stop?.endsAt).toBe(EXAMPLE_T0 + 4 * Q);
  });

  it('flags an approval the rules refuse (price above the cap), naming the entry', () => {
    const v = makeValidator();
    const b = registeredWorld(v);
    const id = propose(
      b,
      compliantContract({ priceMinorPerKWh: 400, deposits: { seller: 80, buyer: 2000 } }),
    );
    const forged = forge(b, {
      kind: 'contract-review',
      subject: id,
      outcome: 'approved',
      reasons: [],
      at: T_REVIEW,
    });
    expect(fold(b).contracts[id]?.status).toBe('approved'); // the fold trusts the validator's signature…
    const r = verify(b);
    expect(r.ok).toBe(false); // …verify does not trust its judgement
    expect(r.failure).toMatchObject({
      index: forged.index,
      kind: 'contract-review',
      subject: id,
      reason: 'outcome-mismatch',
      detail: 'recorded approved []; the rules give refused [price-above-cap]',
    });
  });

  it('flags a refusal with reasons the rules do not give, and a decision under another policy', () => {
    const b = appliedWorld();
    forge(b, {
      kind: 'registration',
      subject: K.seller.id,
      outcome: 'refused',
      reasons: [{ code: 'capacity-above-limit', message: 'too big' }],
      at: T_APPLY + 2,
    });
    expect(verify(b).failure).toMatchObject({ reason: 'outcome-mismatch', subject: K.seller.id });
    const honest = registeredWorld();
    const other = parsePolicy({ ...POLICY_INPUT, name: 'another' });
    expect(verify(honest, triangleGrid(), [other]).failure).toMatchObject({
      reason: 'policy-unknown',
      index: 4,
    });
    // Given both policies, each decision is checked under its own.
    expect(verify(honest, triangleGrid(), [other, POLICY]).ok).toBe(true);
  });

  it('flags a decision whose inputsHash does not match its stated inputs', () => {
    const b = appliedWorld();
    const payload: ValidatorDecision = {
      kind: 'registration',
      subject: K.seller.id,
      outcome: 'approved',
      reasons: [],
      inputsHash: b64url.encode(new Uint8Array(32)),
      policyHash: policyHashOf(POLICY),
      stateSize: 4,
      at: T_APPLY + 2,
    };
    b.appendSigned(signJws(VALIDATOR_DECISION_TYP, K.validator.id, payload, K.validator.secretKey));
    expect(verify(b).failure).toMatchObject({ reason: 'inputs-mismatch', index: 4 });
  });

  it('a stop is checked when it cites rule codes: unfounded if the contract passes them', () => {
    const { b, id } = activeWorld();
    forge(b, {
      kind: 'contract-stop',
      subject: id,
      outcome: 'stopped',
      reasons: [{ code: 'price-above-cap', message: 'price above the cap' }],
      at: EXAMPLE_T0 - 60_000,
    });
    expect(verify(b).failure).toMatchObject({ reason: 'stop-unfounded', subject: id });
    // Under a policy whose cap has since come down to 20, the same stop holds.
    const lowered = parsePolicy({
      ...POLICY_INPUT,
      contracts: {
        ...POLICY_INPUT.contracts,
        prices: { electricity: { floorMinorPerKWh: 0, capMinorPerKWh: 20 } },
      },
    });
    const w = activeWorld();
    const v2 = new Validator({
      secretKey: K.validator.secretKey,
      policy: lowered,
      currency: 'EUR',
    });
    w.b.appendSigned(
      v2.stop(
        fold(w.b),
        w.id,
        [{ code: 'price-above-cap', message: 'the cap is now 20/kWh' }],
        EXAMPLE_T0 - 60_000,
      ).compact,
    );
    const r = verify(w.b, triangleGrid(), [POLICY, lowered]);
    expect(r).toMatchObject({ ok: true, checked: 4 });
    // A stop for a reason outside the rules (a regulator's order) is a judgement.
    const x = activeWorld();
    x.b.appendSigned(
      x.v.stop(fold(x.b), x.id, [{ code: 'regulator-order', message: 'order 12/2026' }], EXAMPLE_T0 - 60_000)
        .compact,
    );
    expect(verify(x.b)).toMatchObject({ ok: true, judgements: 1 });
  });

  it('a deregistration answering a request must approve it', () => {
    const b = registeredWorld();
    b.deregistrationRequest(K.buyer.id, EXAMPLE_T0);
    forge(b, {
      kind: 'deregistration',
      subject: K.buyer.id,
      outcome: 'refused',
      reasons: [{ code: 'no', message: 'you may not leave' }],
      at: EXAMPLE_T0 + 1,
    });
    expect(verify(b).failure).toMatchObject({ reason: 'outcome-mismatch', kind: 'deregistration' });
  });

  it('a decision without policy hash or state size cannot be recomputed and is flagged', () => {
    const b = appliedWorld();
    b.decision(K.validator.id, {
      kind: 'registration',
      subject: K.seller.id,
      outcome: 'approved',
      reasons: [],
      inputsHash: b64url.encode(new Uint8Array(32)),
      at: T_APPLY + 2,
    });
    expect(verify(b).failure).toMatchObject({ reason: 'not-recomputable', index: 4 });
  });
});

describe('congestion decisions from the folded state', () => {
  // Seller at bus-1, buyer at bus-3, 1000 Wh per 15 min = 4000 W; 2/3 of it (2667 W) takes line
  // 1-3, limited to 2000 W. Minimum adjustment keeps limit / (2/3) less the rounding margin: 0.5 Wh
  // per LP row (5 rows) = 2.5 Wh per 15 minutes = 10 W, so (2000 − 10) · 1.5 = 2985 W = 746.25 Wh
  // → 746 Wh.
  it('decides an interval, signs it, and verify recomputes it from the log', () => {
    const grid = triangleGrid(2_000);
    const v = makeValidator({ gridModel: grid, highs });
    const { b, id } = activeWorld(compliantContract(), v);
    const interval = { start: EXAMPLE_T0, end: EXAMPLE_T0 + Q };
    const c = v.congestion(fold(b), interval, EXAMPLE_T0 - 300_000);
    expect(c).toBeDefined();
    if (c === undefined) return;
    expect(c.decision).toMatchObject({
      kind: 'congestion',
      subject: c.record.inputsHash,
      inputsHash: c.record.inputsHash,
      outcome: 'adjusted',
      interval,
      adjustments: [{ contract: id, interval, quantityWh: 746 }],
      reasons: [
        { code: 'grid-model', message: `grid model triangle, SHA-256 ${gridModelHash(grid)}` },
        { code: 'line-overload', message: 'line 1-3 would carry 2667 W, over its 2000 W limit' },
        { code: 'line-shadow-prices', message: 'μ, weight per MWh: 1-3 1500' },
        {
          code: 'nodal-congestion-prices',
          message: "price less the slack's, weight per MWh: bus-1 -1000, bus-2 -500",
        },
      ],
    });
    expect(c.record.inputs.contracts).toEqual([
      {
        id,
        sellerBus: 'bus-1',
        buyerBus: 'bus-3',
        quantityWh: 1000,
        priceMinorPerKWh: 29,
        class: 'electricity',
      },
    ]);
    expect(c.unplaced).toEqual([]);
    b.appendSigned(c.compact);
    expect(fold(b).congestion).toEqual([
      expect.objectContaining({ outcome: 'adjusted', inputsHash: c.record.inputsHash, interval }),
    ]);
    expect(verify(b, grid)).toMatchObject({ ok: true, checked: 4, skipped: [] });
    // Without HiGHS the congestion decision is skipped, not failed.
    expect(verifyValidatorDecisions(b.entries, POLICY, grid, { config: CFG }).skipped).toEqual([
      { index: b.entries.length - 1, reason: 'congestion: no HiGHS given' },
    ]);
    // Against a different grid (a raised limit) the rebuilt inputs no longer hash the same; the
    // failure names the grid model the decision was made on.
    const other = verify(b, triangleGrid(3_000)).failure;
    expect(other).toMatchObject({ reason: 'inputs-mismatch', kind: 'congestion' });
    expect(other?.detail).toContain(`made on grid model triangle, SHA-256 ${gridModelHash(grid)}`);
  });

  it('flags a congestion decision that waves the overload through', () => {
    const grid = triangleGrid(2_000);
    const v = makeValidator({ gridModel: grid, highs });
    const { b } = activeWorld(compliantContract(), v);
    const interval = { start: EXAMPLE_T0 + Q, end: EXAMPLE_T0 + 2 * Q };
    const c = v.congestion(fold(b), interval, EXAMPLE_T0 - 300_000);
    if (c === undefined) throw new Error('expected a decision');
    const { adjustments: _drop, ...rest } = c.decision;
    const waved = { ...rest, outcome: 'approved' as const, reasons: [] };
    b.appendSigned(signJws(VALIDATOR_DECISION_TYP, K.validator.id, waved, K.validator.secretKey));
    expect(verify(b, grid).failure).toMatchObject({ reason: 'outcome-mismatch', kind: 'congestion' });
  });

  /** An active contract on the triangle grid, and the interval and moment to decide it at. */
  function preparedWorld() {
    const grid = triangleGrid(2_000);
    const v = makeValidator({ gridModel: grid, highs });
    const { b } = activeWorld(compliantContract(), v);
    const policy = v.policy.congestion;
    if (policy === undefined) throw new Error('the fixture policy manages congestion');
    const interval = { start: EXAMPLE_T0, end: EXAMPLE_T0 + Q };
    return { grid, v, state: fold(b), interval, at: EXAMPLE_T0 - 300_000, policy };
  }

  it('signs inputs prepared from the state byte for byte as it decides on its own', () => {
    const { grid, v, state, interval, at, policy } = preparedWorld();
    const fromState = congestionRequestFromState(state, interval, grid, policy);
    const prepared = prepareCongestion(highs, state.size, fromState);
    const own = v.congestion(state, interval, at);
    const given = v.congestion(state, interval, at, prepared);
    if (own === undefined || given === undefined) throw new Error('expected a decision both ways');
    expect(given.decision.outcome).toBe('adjusted');
    expect(given.compact).toBe(own.compact);
    expect(given.record).toEqual(own.record);
    expect(given.record).toEqual(decideCongestion(highs, fromState.request));
    expect(given.unplaced).toEqual(own.unplaced);
    // Inputs of nothing flowing: no decision, as without them.
    const before = { start: EXAMPLE_T0 - Q, end: EXAMPLE_T0 };
    const empty = prepareCongestion(
      highs,
      state.size,
      congestionRequestFromState(state, before, grid, policy),
    );
    expect(v.congestion(state, before, at, empty)).toBeUndefined();
  });

  it('refuses prepared inputs of another state, interval, grid model or policy', () => {
    const { grid, v, state, interval, at, policy } = preparedWorld();
    const prep = (o: { size?: number; iv?: typeof interval; g?: typeof grid; p?: typeof policy } = {}) =>
      prepareCongestion(
        highs,
        o.size ?? state.size,
        congestionRequestFromState(state, o.iv ?? interval, o.g ?? grid, o.p ?? policy),
      );
    const refused = (p: ReturnType<typeof prep>, says: string) => {
      let err: unknown;
      try {
        v.congestion(state, interval, at, p);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ValidatorError);
      expect(err).toMatchObject({ code: 'prepared-mismatch' });
      expect((err as Error).message).toContain(says);
    };
    refused(prep({ size: state.size - 1 }), `a state of ${state.size - 1} entries, not ${state.size}`);
    refused(prep({ iv: { start: EXAMPLE_T0 + Q, end: EXAMPLE_T0 + 2 * Q } }), 'the interval');
    refused(prep({ g: triangleGrid(3_000) }), `not the validator's ${gridModelHash(grid)}`);
    refused(prep({ p: { ...policy, method: 'congestion-price' } }), 'another congestion policy');
    // An equal grid model and policy (other objects, same content) are the validator's.
    const same = prep({ g: triangleGrid(2_000), p: structuredClone(policy) });
    expect(v.congestion(state, interval, at, same)?.compact).toBe(v.congestion(state, interval, at)?.compact);
  });

  it('no decision when nothing flows in the interval', () => {
    const v = makeValidator({ gridModel: triangleGrid(), highs });
    const { b } = activeWorld(compliantContract(), v);
    expect(v.congestion(fold(b), { start: EXAMPLE_T0 - Q, end: EXAMPLE_T0 }, EXAMPLE_T0 - Q)).toBeUndefined();
  });
});
