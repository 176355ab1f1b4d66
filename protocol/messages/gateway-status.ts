// The gateway's birth and death: published retained on gw/{id}/status when the agent connects
// (online), and registered as the MQTT last will (offline) so the broker announces a lost gateway.
import { z } from 'zod';
import { gatewayId, hash32, parseWith, text, utcMs } from './common.js';

export const GATEWAY_STATUS_TYP = 'wattproof.gateway-status.v1';

export const gatewayStatusSchema = z.strictObject({
  gw: gatewayId,
  state: z.enum(['online', 'offline']),
  /** The agent's version (semver). */
  version: text(64),
  /** base64url SHA-256 of the agent's configuration file bytes. */
  configHash: hash32,
  /** Whether the system clock was synchronised when this status was signed. */
  clockSynchronised: z.boolean(),
  /** When it was signed. For the last will (offline) that is when the will was registered. */
  at: utcMs,
});
export type GatewayStatus = z.output<typeof gatewayStatusSchema>;

export function parseGatewayStatus(payload: unknown) {
  return parseWith(gatewayStatusSchema, payload);
}
