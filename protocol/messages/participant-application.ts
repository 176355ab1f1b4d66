// A participant's application to register (signed by the participant's own key, kid = participant).
// The validator approves or refuses it with a validator decision.
import { z } from 'zod';
import { b64url } from '../bytes.js';
import { idMatchesKey } from '../identity.js';
import {
  energyType,
  gatewayId,
  name,
  nonNegativeInt,
  parseWith,
  participantId,
  publicKey32,
  type RuleIssue,
  sortedUniqueRules,
  utcMs,
  withRules,
} from './common.js';

export const PARTICIPANT_APPLICATION_TYP = 'wattproof.participant-application.v1';

export const PARTICIPANT_ROLES = ['household', 'producer', 'utility', 'storage'] as const;
export const participantRole = z.enum(PARTICIPANT_ROLES);
export type ParticipantRole = z.infer<typeof participantRole>;

const applicationStructure = z.strictObject({
  participant: participantId,
  /** The participant's raw Ed25519 public key; `participant` is the id derived from it. */
  publicKey: publicKey32,
  role: participantRole,
  /** The energy carriers the participant asks to trade, sorted, unique. */
  energies: z.array(energyType).min(1, 'must name at least one energy type').max(3),
  /** The grid region and the node (bus) the participant is connected at. */
  region: name,
  gridNode: name,
  /** The gateways that meter this participant, sorted, unique. */
  gateways: z.array(gatewayId).max(100),
  /** Largest power the connection can export or import, W (the validator checks quantities). */
  capacityW: nonNegativeInt,
  at: utcMs,
});

export const participantApplicationSchema = withRules(applicationStructure, (v) => {
  const out: RuleIssue[] = [
    ...sortedUniqueRules(v.energies, ['energies']),
    ...sortedUniqueRules(v.gateways, ['gateways']),
  ];
  if (!idMatchesKey(v.participant, b64url.decode(v.publicKey)))
    out.push({ path: ['participant'], message: 'is not the participant id derived from publicKey' });
  return out;
});
export type ParticipantApplication = z.output<typeof participantApplicationSchema>;

export function parseParticipantApplication(payload: unknown) {
  return parseWith(participantApplicationSchema, payload);
}
