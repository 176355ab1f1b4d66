// The gateway's immediate answer to a command, on gw/{id}/cmd/{name}/res: received and accepted
// for processing, or refused with a reason. Signed, not chained (the outcome of a dispatch is the
// chained dispatch response on gw/{id}/event).
import { z } from 'zod';
import { gatewayId, hash32, name, parseWith, type RuleIssue, reason, utcMs, withRules } from './common.js';

export const COMMAND_ACK_TYP = 'wattproof.command-ack.v1';

const structure = z.strictObject({
  gw: gatewayId,
  /** The command's name (the {name} of its topic). */
  command: name,
  /** base64url SHA-256 of the command message as received (the compact JWS or JSON text). */
  commandHash: hash32,
  accepted: z.boolean(),
  reason: reason.optional(),
  at: utcMs,
});

function rules(v: z.output<typeof structure>): RuleIssue[] {
  if (!v.accepted && v.reason === undefined)
    return [{ path: ['reason'], message: 'is required when accepted is false' }];
  return [];
}

export const commandAckSchema = withRules(structure, rules);
export type CommandAck = z.output<typeof commandAckSchema>;

export function parseCommandAck(payload: unknown) {
  return parseWith(commandAckSchema, payload);
}
