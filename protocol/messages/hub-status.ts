// The hub's retained status on hub/status: online or offline, and its latest checkpoint.
import { z } from 'zod';
import { hubId, parseWith, text, utcMs } from './common.js';

export const HUB_STATUS_TYP = 'wattproof.hub-status.v1';

export const hubStatusSchema = z.strictObject({
  hub: hubId,
  state: z.enum(['online', 'offline']),
  version: text(64),
  /** The latest C2SP signed checkpoint (absent while the log is empty or the hub is offline). */
  checkpoint: z.string().min(1).max(8192).optional(),
  at: utcMs,
});
export type HubStatus = z.output<typeof hubStatusSchema>;

export function parseHubStatus(payload: unknown) {
  return parseWith(hubStatusSchema, payload);
}
