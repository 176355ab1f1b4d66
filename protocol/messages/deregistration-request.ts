// A participant's signed request to leave (kid = participant). The validator answers it with a
// deregistration decision; from then on the participant's open contracts end by the rules of
// docs/validator.md ("Deregistration").
import { z } from 'zod';
import { parseWith, participantId, text, utcMs } from './common.js';

export const DEREGISTRATION_REQUEST_TYP = 'wattproof.deregistration-request.v1';

export const deregistrationRequestSchema = z.strictObject({
  participant: participantId,
  reason: text(500).optional(),
  at: utcMs,
});
export type DeregistrationRequest = z.output<typeof deregistrationRequestSchema>;

export function parseDeregistrationRequest(payload: unknown) {
  return parseWith(deregistrationRequestSchema, payload);
}
