// The dispatch command: the hub asks a gateway's battery for a power setpoint under a flexibility
// contract. Signed by the hub; the agent checks the signature, the contract and its own limits.
import { z } from 'zod';
import {
  contractId,
  gatewayId,
  intervalOrderRules,
  nonce,
  parseWith,
  type RuleIssue,
  safeInt,
  utcMs,
  withRules,
} from './common.js';

export const DISPATCH_COMMAND_TYP = 'wattproof.dispatch-command.v1';

/** Largest setpoint magnitude accepted, W (100 MW: anything larger is a unit mistake). */
export const MAX_SETPOINT_W = 100_000_000;

const structure = z.strictObject({
  contract: contractId,
  gw: gatewayId,
  /**
   * Battery power setpoint in W at the battery's AC terminals: positive = discharge (power
   * flows out of the battery), negative = charge, 0 = hold.
   */
  setpointW: safeInt
    .min(-MAX_SETPOINT_W, `must be ≥ −${MAX_SETPOINT_W} W`)
    .max(MAX_SETPOINT_W, `must be ≤ ${MAX_SETPOINT_W} W`),
  /** When the setpoint applies from and until, UTC ms (not necessarily aligned). */
  start: utcMs,
  end: utcMs,
  /** After this instant an unapplied command must be refused as expired. */
  expires: utcMs,
  nonce,
  issuedAt: utcMs,
});

function rules(v: z.output<typeof structure>): RuleIssue[] {
  const out = intervalOrderRules({ start: v.start, end: v.end }, []);
  if (v.expires <= v.issuedAt) out.push({ path: ['expires'], message: 'must be after issuedAt' });
  if (v.expires > v.end) out.push({ path: ['expires'], message: 'must not be after end' });
  return out;
}

export const dispatchCommandSchema = withRules(structure, rules);
export type DispatchCommand = z.output<typeof dispatchCommandSchema>;

export function parseDispatchCommand(payload: unknown) {
  return parseWith(dispatchCommandSchema, payload);
}
