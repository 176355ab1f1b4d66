// Ledger entry (hub-signed): a gateway enrolled with this public key. From this entry on, the
// gateway's messages are verified with this key; a verifier of the log learns gateway keys only
// from these entries.
import { z } from 'zod';
import { b64url } from '../bytes.js';
import { idMatchesKey } from '../identity.js';
import {
  gatewayId,
  name,
  parseWith,
  participantId,
  publicKey32,
  type RuleIssue,
  utcMs,
  withRules,
} from './common.js';

export const GATEWAY_BINDING_TYP = 'wattproof.gateway-binding.v1';

const structure = z.strictObject({
  gw: gatewayId,
  /** The gateway's raw 32-byte Ed25519 public key, base64url. gw must be the id derived from it. */
  publicKey: publicKey32,
  /** The site the enrolment token was bound to. */
  site: name,
  /** The participant the gateway meters, when the token named one. */
  participant: participantId.optional(),
  at: utcMs,
});

function rules(v: z.output<typeof structure>): RuleIssue[] {
  if (!idMatchesKey(v.gw, b64url.decode(v.publicKey)))
    return [{ path: ['gw'], message: 'is not the gateway id derived from publicKey' }];
  return [];
}

export const gatewayBindingSchema = withRules(structure, rules);
export type GatewayBinding = z.output<typeof gatewayBindingSchema>;

export function parseGatewayBinding(payload: unknown) {
  return parseWith(gatewayBindingSchema, payload);
}
