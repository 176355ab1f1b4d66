// Qualification review: a participant's application checked against the policy and the registry
// folded so far. Pure: the same application, registry, policy (and grid model) give the same
// outcome, which is how `verify` recomputes every registration decision. Every failing rule is a
// reason {code, message}; no failure but a human-review trigger queues the case for a person.
import type { Reason } from '../../protocol/messages/index.js';
import type { ParticipantRecord, RegistryState } from '../participants/registry.js';
import type { GridModel } from './congestion/grid-model.js';
import type { ValidatorPolicy } from './policy.js';

export interface ReviewOutcome {
  outcome: 'approved' | 'refused' | 'queued';
  reasons: Reason[];
}

/** What an application shows (the registry keeps it as the participant's record). */
export type Applicant = Pick<
  ParticipantRecord,
  'id' | 'role' | 'energies' | 'region' | 'gridNode' | 'gateways' | 'capacityW'
>;

/** Every code the registration rules may give, refusals first, then the human-review triggers. */
export const REGISTRATION_CODES = [
  'already-registered',
  'role-not-allowed',
  'region-not-allowed',
  'grid-node-not-allowed',
  'grid-node-unknown',
  'energy-not-allowed',
  'capacity-above-limit',
  'gateway-required',
  'gateway-not-enrolled',
  'gateway-of-another-participant',
] as const;
export const HUMAN_REVIEW_CODES = ['human-review-role', 'human-review-capacity', 'human-review-quantity'];

export function reviewRegistration(
  app: Applicant,
  reg: RegistryState,
  policy: ValidatorPolicy,
  gridModel?: GridModel,
): ReviewOutcome {
  const reasons: Reason[] = [];
  const add = (code: (typeof REGISTRATION_CODES)[number], message: string) => reasons.push({ code, message });
  const existing = reg.participants[app.id];
  if (existing?.status === 'approved') add('already-registered', `${app.id} is already registered`);

  const rule = policy.registration.roles[app.role];
  if (rule === undefined)
    add(
      'role-not-allowed',
      `the policy admits no ${app.role}; roles admitted: ${Object.keys(policy.registration.roles).join(', ')}`,
    );

  const region = policy.registration.regions[app.region];
  if (region === undefined)
    add(
      'region-not-allowed',
      `region "${app.region}" is not served; served: ${Object.keys(policy.registration.regions).join(', ')}`,
    );
  else if (region.gridNodes !== 'any' && !region.gridNodes.includes(app.gridNode))
    add(
      'grid-node-not-allowed',
      `grid node "${app.gridNode}" is not open in region ${app.region}; open: ${region.gridNodes.join(', ')}`,
    );
  if (gridModel !== undefined && !gridModel.buses.some((b) => b.id === app.gridNode))
    add('grid-node-unknown', `grid node "${app.gridNode}" is not a bus of grid model "${gridModel.name}"`);

  let humanCapacity: string | undefined;
  if (rule !== undefined) {
    for (const energy of app.energies) {
      const lim = rule.energies[energy as keyof typeof rule.energies];
      if (lim === undefined) {
        add('energy-not-allowed', `a ${app.role} may not trade ${energy}`);
        continue;
      }
      if (app.capacityW > lim.maxCapacityW)
        add(
          'capacity-above-limit',
          `capacity ${app.capacityW} W is above the ${lim.maxCapacityW} W a ${app.role} may register for ${energy}`,
        );
      else if (lim.humanReviewAboveW !== undefined && app.capacityW > lim.humanReviewAboveW)
        humanCapacity ??= `capacity ${app.capacityW} W for ${energy} is above ${lim.humanReviewAboveW} W: a person decides`;
    }
    if (app.gateways.length < rule.minGateways)
      add(
        'gateway-required',
        `a ${app.role} names at least ${rule.minGateways} metering gateway${rule.minGateways === 1 ? '' : 's'}; the application names ${app.gateways.length}`,
      );
  }

  for (const gw of app.gateways) {
    const binding = reg.gateways[gw];
    if (binding === undefined) {
      add('gateway-not-enrolled', `${gw} is not enrolled (no gateway binding in the log)`);
      continue;
    }
    if (binding.participant !== null && binding.participant !== app.id)
      add('gateway-of-another-participant', `${gw} was enrolled for ${binding.participant}`);
    const owner = Object.values(reg.participants).find(
      (p) => p.id !== app.id && p.status === 'approved' && p.gateways.includes(gw),
    );
    if (owner !== undefined) add('gateway-of-another-participant', `${gw} meters ${owner.id} already`);
  }

  if (reasons.length > 0) return { outcome: 'refused', reasons };
  const human: Reason[] = [];
  if (rule?.humanReview === 'always')
    human.push({
      code: 'human-review-role',
      message: `every ${app.role} application is decided by a person`,
    });
  if (humanCapacity !== undefined) human.push({ code: 'human-review-capacity', message: humanCapacity });
  return human.length > 0 ? { outcome: 'queued', reasons: human } : { outcome: 'approved', reasons: [] };
}
