// Congestion decisions at run time (docs/validator.md, "Congestion at run time"). For every
// congestion interval about to start (start within the lead time), the validator decides the
// interval from the folded state: once when contracts first flow in it, and again whenever the
// contracts flowing in it change before it starts (the latest decision for an interval rules).
// A `refused` decision (congestion price) is followed by a validator stop of each refused
// contract that is still open, so settlement follows the stop rule; the interval is then decided
// again on what is left. An `adjusted` decision (minimum adjustment) is recorded by the fold and
// settlement counts the adjusted quantities.
//
// The step only plans signed entries from the state; the engine appends them with its single
// writer (Engine.runCongestion), so every decision cites the state it was computed from.
import type { Logger } from 'pino';
import { MAX_JWS_BYTES } from '../../protocol/index.js';
import type { ValidatorDecision } from '../../protocol/messages/index.js';
import type { CongestionRecord, ContractRecord, LedgerState } from '../contracts/fold.js';
import type { SettlementInterval } from '../validator/congestion/contracts.js';
import { type CongestionOutputs, recompute } from '../validator/congestion/decision.js';
import type { GridModel } from '../validator/congestion/grid-model.js';
import type { Highs } from '../validator/congestion/lp.js';
import { congestionRequestFromState, prepareCongestion } from '../validator/congestion-state.js';
import type { ValidatorPolicy } from '../validator/policy.js';
import type { SignedDecision, Validator } from '../validator/validator.js';
import { CONGESTION_REFUSED_CODE } from '../validator/verify-decisions.js';

/** A contract a refused congestion decision names is stopped while it is in one of these states. */
const STOPPABLE = new Set(['approved', 'active', 'delivering']);

export interface CongestionStepOptions {
  /** The validator that signs (its policy has a congestion section). */
  validator: Validator;
  gridModel: GridModel;
  highs: Highs;
  /** Length of a congestion interval, ms (a protocol settlement period). */
  periodMs: number;
  /** How long before an interval starts it is first decided, ms. */
  leadMs: number;
  log: Logger;
}

/** Intervals of `periodMs` (aligned to it) that start within (now, now + leadMs]. */
export function dueIntervals(now: number, periodMs: number, leadMs: number): SettlementInterval[] {
  const out: SettlementInterval[] = [];
  let start = (Math.floor(now / periodMs) + 1) * periodMs;
  for (; start <= now + leadMs; start += periodMs) out.push({ start, end: start + periodMs });
  return out;
}

/** The latest congestion decision the state holds for exactly this interval. */
export function latestDecisionFor(
  state: LedgerState,
  interval: SettlementInterval,
): CongestionRecord | undefined {
  for (let i = state.congestion.length - 1; i >= 0; i--) {
    const d = state.congestion[i] as CongestionRecord;
    if (d.interval?.start === interval.start && d.interval.end === interval.end) return d;
  }
  return undefined;
}

/**
 * Changes whenever the contracts flowing in any interval or the congestion decisions can have
 * changed: every contract status change is recorded in its history (approval, activation, stop,
 * cancellation, settlement), a new contract adds a record, a decision adds to state.congestion,
 * and a party's bus is fixed by its application. Meter proofs change none of it. O(contracts)
 * additions, far cheaper than rebuilding the congestion request.
 */
export function contractsVersion(state: LedgerState): string {
  let contracts = 0;
  let transitions = 0;
  for (const id in state.contracts) {
    contracts++;
    transitions += (state.contracts[id] as ContractRecord).history.length;
  }
  return `${contracts}|${transitions}|${state.congestion.length}|${Object.keys(state.registry.participants).length}`;
}

export class CongestionStep {
  readonly kid: string;
  /** Each bus of the grid model → its region (the engine's prices attach a region's buses). */
  readonly busRegions: Readonly<Record<string, string>>;
  private readonly policy: NonNullable<ValidatorPolicy['congestion']>;
  /** Interval start → the state size at which it was last found to need nothing. */
  private readonly settled = new Map<number, number>();
  /**
   * Interval start → the contracts flowing in it and its latest decision, when last found to need
   * nothing: most new entries (meter proofs) change neither, and then the inputs (grid model and
   * all) are not canonicalised and hashed again.
   */
  private readonly seenKey = new Map<number, string>();
  /** Interval start → contractsVersion when last found to need nothing. */
  private readonly seenVersion = new Map<number, string>();
  /** Outputs by inputs hash (the side table of decisions this process made or recomputed). */
  private readonly outputs = new Map<string, CongestionOutputs>();
  /** Inputs hashes that gave no decision to sign: no adjustment within the policy clears the
   * overloads, or the decision is too large for one entry (logged once each). */
  private readonly infeasible = new Set<string>();

  constructor(private readonly o: CongestionStepOptions) {
    const policy = o.validator.policy.congestion;
    if (policy === undefined)
      throw new Error('the validator policy has no congestion section; add one (docs/validator.md)');
    this.policy = policy;
    this.kid = o.validator.kid;
    this.busRegions = Object.fromEntries(o.gridModel.buses.map((b) => [b.id, b.region]));
  }

  /**
   * The next validator entries to append for the state at `now`: one congestion decision, or the
   * stops of a refused decision's contracts; none when every due interval is decided on the
   * contracts flowing in it. Append them, fold, and ask again.
   */
  next(state: LedgerState, now: number): SignedDecision[] {
    const { periodMs, leadMs, gridModel, highs, validator, log } = this.o;
    const due = dueIntervals(now, periodMs, leadMs);
    for (const start of this.settled.keys())
      if (start <= now) {
        this.settled.delete(start);
        this.seenKey.delete(start);
        this.seenVersion.delete(start);
      }
    let version: string | undefined;
    for (const interval of due) {
      if (this.settled.get(interval.start) === state.size) continue;
      version ??= contractsVersion(state);
      if (this.seenVersion.get(interval.start) === version) {
        this.settled.set(interval.start, state.size);
        continue;
      }
      const fromState = congestionRequestFromState(state, interval, gridModel, this.policy);
      const { request } = fromState;
      const latest = latestDecisionFor(state, interval);
      const key = `${latest?.index ?? -1}|${JSON.stringify(request.contracts)}`;
      if (this.seenKey.get(interval.start) === key) {
        this.settled.set(interval.start, state.size);
        continue;
      }
      if (request.contracts.length > 0) {
        // Built and hashed once: the validator signs these very inputs when they need a decision.
        const prepared = prepareCongestion(highs, state.size, fromState);
        const { inputs, inputsHash: hash } = prepared;
        if (latest?.inputsHash !== hash) {
          if (this.infeasible.has(hash)) {
            this.settled.set(interval.start, state.size);
            continue;
          }
          try {
            const made = validator.congestion(state, interval, now, prepared);
            if (made !== undefined && made.compact.length > MAX_JWS_BYTES) {
              // A leaf above the protocol's JWS limit could not be read back by any verifier.
              this.infeasible.add(hash);
              log.error(
                {
                  event: 'congestion-decision-too-large',
                  interval,
                  inputsHash: hash,
                  bytes: made.compact.length,
                  adjustments: made.decision.adjustments?.length ?? 0,
                },
                `the congestion decision would be ${made.compact.length} bytes, over the ${MAX_JWS_BYTES}-byte entry limit; nothing signed, the operator must act`,
              );
            } else if (made !== undefined) {
              this.remember(made.record.inputsHash, made.record.outputs);
              log.info(
                {
                  event: 'congestion-decision',
                  interval,
                  outcome: made.decision.outcome,
                  contracts: made.record.inputs.contracts.length,
                  unplaced: made.unplaced,
                  lineShadowPrices: made.record.outputs.lineShadowPrices,
                  nodalCongestion: made.record.outputs.nodalCongestion,
                },
                'congestion decision for an interval',
              );
              return [made];
            }
          } catch (err) {
            this.infeasible.add(hash);
            // The validator refuses inputs built for another grid model or policy: a setup fault,
            // not an overloaded grid, and the operator needs to be told which.
            const misconfigured = (err as { code?: unknown }).code === 'prepared-mismatch';
            log.error(
              {
                event: misconfigured ? 'congestion-misconfigured' : 'congestion-undecidable',
                interval,
                inputsHash: hash,
                err: (err as Error).message,
              },
              misconfigured
                ? "no congestion decision for the interval: the engine's grid model or policy is not the validator's (check engine.gridModelFile and engine.validatorPolicyFile, then restart)"
                : 'no congestion decision for the interval; the operator must act (firm contracts or background flows overload a line)',
            );
          }
        } else if (latest.outcome === 'refused') {
          const outputs = this.outputs.get(hash) ?? recompute(highs, inputs);
          this.remember(hash, outputs);
          const stops = this.stopsFor(state, latest, outputs, now);
          if (stops.length > 0) return stops;
        }
      }
      this.settled.set(interval.start, state.size);
      this.seenKey.set(interval.start, key);
      this.seenVersion.set(interval.start, version);
    }
    return [];
  }

  private stopsFor(
    state: LedgerState,
    decision: CongestionRecord,
    outputs: CongestionOutputs,
    now: number,
  ): SignedDecision[] {
    const out: SignedDecision[] = [];
    const iv = decision.interval as SettlementInterval;
    for (const r of outputs.refused) {
      const rec = state.contracts[r.contract];
      if (rec === undefined || !STOPPABLE.has(rec.status)) continue;
      const lines = r.lines.map((l) => `${l.line} (${l.ptdfPerMille}‰)`).join(', ');
      const reasons: ValidatorDecision['reasons'] = [
        {
          code: CONGESTION_REFUSED_CODE,
          message: `refused by the congestion decision at entry ${decision.index} for the interval ${new Date(iv.start).toISOString()}: it loads ${lines}`,
        },
      ];
      out.push(this.o.validator.stop(state, r.contract, reasons, now));
    }
    return out;
  }

  private remember(hash: string, outputs: CongestionOutputs): void {
    // A handful of intervals are due at a time; keep the recent ones only.
    if (this.outputs.size >= 64) {
      const first = this.outputs.keys().next().value;
      if (first !== undefined) this.outputs.delete(first);
    }
    this.outputs.set(hash, outputs);
  }
}
