// What the agent checks before it moves the battery, as pure functions: the command is for this
// gateway, fresh (not expired, not seen before), names a flexibility contract this gateway sells
// from, inside its window and power; then the installer's opt-in and limits, and the battery's
// state of charge. Each refusal has a stable code (docs/markets.md, "Dispatch", lists them).
import type { DispatchCommand, FlexibilityContract } from '../../protocol/messages/index.js';
import type { Refusal, RefusalCode } from './refusals.js';

export type Check<T = void> = { ok: true; value: T } | { ok: false; reason: Refusal };

const refuse = (code: RefusalCode, message: string): { ok: false; reason: Refusal } => ({
  ok: false,
  reason: { code, message },
});

export interface LocalLimits {
  enabled: boolean;
  socMinPct: number;
  socMaxPct: number;
  maxDischargeW: number;
  maxChargeW: number;
}

/** The command against this gateway, the clock, what was seen, and the contract it names. */
export function checkCommand(input: {
  command: DispatchCommand;
  gatewayId: string;
  now: number;
  /** The command's hash or its nonce was answered before. */
  seen: boolean;
  /** The contract the command names, if the hub sent it to this gateway. */
  contract: FlexibilityContract | undefined;
}): Check {
  const { command: c, gatewayId, now, contract } = input;
  if (c.gw !== gatewayId) return refuse('wrong-gateway', `the command is for ${c.gw}, not this gateway`);
  if (input.seen) return refuse('replay', 'this command (or its nonce) was answered before');
  if (now > c.expires)
    return refuse('expired', `the command expired at ${new Date(c.expires).toISOString()}`);
  if (now >= c.end)
    return refuse('expired', `the setpoint's period ended at ${new Date(c.end).toISOString()}`);
  if (contract === undefined)
    return refuse('unknown-contract', `no active flexibility contract ${c.contract} on this gateway`);
  if (!contract.deliveryPoints.seller.some((p) => p.gw === gatewayId))
    return refuse('not-seller', 'this gateway is not a seller delivery point of the contract');
  if (now >= contract.window.end) return refuse('contract-ended', 'the contract’s window has ended');
  if (c.start < contract.window.start || c.end > contract.window.end)
    return refuse('outside-window', 'the setpoint’s period is not inside the contract’s window');
  if (c.setpointW > contract.maxDischargeW)
    return refuse(
      'above-contract-power',
      `${c.setpointW} W discharge is above the contract’s ${contract.maxDischargeW} W`,
    );
  if (-c.setpointW > contract.maxChargeW)
    return refuse(
      'above-contract-power',
      `${-c.setpointW} W charge is above the contract’s ${contract.maxChargeW} W`,
    );
  return { ok: true, value: undefined };
}

/** The installer's opt-in and power limits (no device needed). */
export function checkLocalLimits(setpointW: number, limits: LocalLimits): Check {
  if (!limits.enabled)
    return refuse('writes-disabled', 'dispatch is not enabled on this gateway (dispatch.enabled is false)');
  if (setpointW > limits.maxDischargeW)
    return refuse(
      'above-local-limit',
      `${setpointW} W discharge is above the installer’s limit of ${limits.maxDischargeW} W`,
    );
  if (-setpointW > limits.maxChargeW)
    return refuse(
      'above-local-limit',
      `${-setpointW} W charge is above the installer’s limit of ${limits.maxChargeW} W`,
    );
  return { ok: true, value: undefined };
}

/** The battery's state of charge against the installer's window (unknown SoC: refused, to be safe). */
export function checkStateOfCharge(setpointW: number, socPct: number | null, limits: LocalLimits): Check {
  if (setpointW === 0) return { ok: true, value: undefined };
  if (socPct === null) return refuse('soc-unknown', 'the battery does not report its state of charge');
  if (setpointW > 0 && socPct <= limits.socMinPct)
    return refuse(
      'soc-too-low',
      `state of charge ${socPct} % is at or below the installer’s ${limits.socMinPct} %`,
    );
  if (setpointW < 0 && socPct >= limits.socMaxPct)
    return refuse(
      'soc-too-high',
      `state of charge ${socPct} % is at or above the installer’s ${limits.socMaxPct} %`,
    );
  return { ok: true, value: undefined };
}
