// The simple registration rule set the validator applies to a participant application (the full
// qualification review with a policy file comes with the validator issue). Pure: the application,
// the registry folded so far and the policy in, a decision out — the validator signs it as a
// validator-decision entry whose inputsHash covers the policy, so anyone can recompute it.
import { b64url, canonicalJson, sha256 } from '../../protocol/index.js';
import type { EnergyType, Reason, ValidatorDecision } from '../../protocol/messages/index.js';
import type { ParticipantApplication, ParticipantRole } from '../contracts/messages.js';
import type { RegistryState } from './registry.js';

export interface RegistrationPolicy {
  /** Regions accepted; absent = any. */
  regions?: readonly string[];
  /** Energy types each role may trade; a role absent here may trade any. */
  energiesByRole?: Partial<Record<ParticipantRole, readonly EnergyType[]>>;
  /** Largest connection capacity accepted, W. */
  maxCapacityW?: number;
  /** Roles that must name at least one enrolled gateway (default: every role but utility). */
  rolesNeedingGateway?: readonly ParticipantRole[];
}

export const DEFAULT_POLICY: RegistrationPolicy = {
  rolesNeedingGateway: ['household', 'producer', 'storage'],
};

export interface RegistrationReview {
  outcome: 'approved' | 'refused';
  reasons: Reason[];
}

/** Checks an application against the policy and the registry; every failing rule is a reason. */
export function reviewApplication(
  app: ParticipantApplication,
  reg: RegistryState,
  policy: RegistrationPolicy = DEFAULT_POLICY,
): RegistrationReview {
  const reasons: Reason[] = [];
  const existing = reg.participants[app.participant];
  if (existing?.status === 'approved')
    reasons.push({ code: 'already-registered', message: `${app.participant} is already registered` });
  if (policy.regions !== undefined && !policy.regions.includes(app.region))
    reasons.push({
      code: 'region-not-allowed',
      message: `region "${app.region}" is not served; allowed: ${policy.regions.join(', ')}`,
    });
  const allowed = policy.energiesByRole?.[app.role];
  if (allowed !== undefined)
    for (const e of app.energies)
      if (!allowed.includes(e))
        reasons.push({ code: 'energy-not-allowed', message: `a ${app.role} may not trade ${e}` });
  if (policy.maxCapacityW !== undefined && app.capacityW > policy.maxCapacityW)
    reasons.push({
      code: 'capacity-above-limit',
      message: `capacity ${app.capacityW} W is above the ${policy.maxCapacityW} W limit`,
    });
  const needsGateway = (policy.rolesNeedingGateway ?? DEFAULT_POLICY.rolesNeedingGateway ?? []).includes(
    app.role,
  );
  if (needsGateway && app.gateways.length === 0)
    reasons.push({ code: 'gateway-required', message: `a ${app.role} names at least one metering gateway` });
  for (const gw of app.gateways) {
    const binding = reg.gateways[gw];
    if (binding === undefined) {
      reasons.push({
        code: 'gateway-not-enrolled',
        message: `${gw} is not enrolled (no gateway binding in the log)`,
      });
      continue;
    }
    if (binding.participant !== null && binding.participant !== app.participant)
      reasons.push({
        code: 'gateway-of-another-participant',
        message: `${gw} was enrolled for ${binding.participant}`,
      });
    const owner = Object.values(reg.participants).find(
      (p) => p.id !== app.participant && p.status === 'approved' && p.gateways.includes(gw),
    );
    if (owner !== undefined)
      reasons.push({ code: 'gateway-of-another-participant', message: `${gw} meters ${owner.id} already` });
  }
  return { outcome: reasons.length === 0 ? 'approved' : 'refused', reasons };
}

/** base64url SHA-256 of the policy's canonical JSON: the decision's inputsHash. */
export function policyHash(policy: RegistrationPolicy): string {
  return b64url.encode(sha256(canonicalJson(policy)));
}

/** The validator-decision payload for a reviewed application. */
export function registrationDecision(
  app: ParticipantApplication,
  review: RegistrationReview,
  policy: RegistrationPolicy,
  at: number,
): ValidatorDecision {
  return {
    kind: 'registration',
    subject: app.participant,
    outcome: review.outcome,
    reasons: review.reasons,
    inputsHash: policyHash(policy),
    at,
  };
}
