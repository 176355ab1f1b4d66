// Telemetry: live readings, batched, signed by the gateway but not chained (a batch may be
// dropped on the way; nothing is settled from it).
import { z } from 'zod';
import { gatewayId, name, parseWith, type RuleIssue, safeInt, utcMs, withRules } from './common.js';

export const TELEMETRY_TYP = 'wattproof.telemetry.v1';

/** Most samples one batch may carry. */
export const MAX_TELEMETRY_SAMPLES = 1000;

export const telemetrySample = z.strictObject({
  /** When the value was read, UTC ms. */
  t: utcMs,
  /** The device's name in the gateway's configuration. */
  device: name,
  /** The point's name in the device profile (e.g. "W", "PhVphA", "TotWhImp"). */
  point: name,
  /** The reading as an integer; the real value is value × 10^scale in the point's unit. */
  value: safeInt,
  /** Power-of-ten exponent, −10..10; absent means 0. */
  scale: z.int().min(-10, 'must be ≥ −10').max(10, 'must be ≤ 10').optional(),
});
export type TelemetrySample = z.infer<typeof telemetrySample>;

const structure = z.strictObject({
  gw: gatewayId,
  samples: z
    .array(telemetrySample)
    .max(MAX_TELEMETRY_SAMPLES, `must hold at most ${MAX_TELEMETRY_SAMPLES} samples`),
  sentAt: utcMs,
});

function rules(v: z.output<typeof structure>): RuleIssue[] {
  for (let i = 1; i < v.samples.length; i++) {
    if ((v.samples[i] as TelemetrySample).t < (v.samples[i - 1] as TelemetrySample).t)
      return [{ path: ['samples', i, 't'], message: 'samples must be in time order (t ascending)' }];
  }
  return [];
}

export const telemetryBatchSchema = withRules(structure, rules);
export type TelemetryBatch = z.output<typeof telemetryBatchSchema>;

export function parseTelemetryBatch(payload: unknown) {
  return parseWith(telemetryBatchSchema, payload);
}
