// The `dispatch:` key of the agent's config: whether the hub may move this home's battery, which
// Modbus device the battery is, and the installer's safety limits. Writes are off unless the
// installer sets enabled: true. docs/agent-config.md, "dispatch".
import { z } from 'zod';

const int = (what: string, lo: number, hi: number) =>
  z
    .number({ error: `must be a whole number (${what})` })
    .int(`must be a whole number (${what})`)
    .min(lo, { error: `${what} is ${lo}..${hi}` })
    .max(hi, { error: `${what} is ${lo}..${hi}` });

/** The dispatch section, given the transport schema the devices use (one shape for both). */
export function dispatchConfigSchema<T extends z.ZodType>(transport: T) {
  return z
    .strictObject(
      {
        enabled: z.boolean({ error: 'enabled is true or false' }).default(false),
        battery: z
          .strictObject(
            {
              transport,
              unit: int('a Modbus unit id', 1, 247),
              sunspecBase: z
                .union([z.literal(0), z.literal(40000), z.literal(50000)], {
                  error: 'a SunSpec base address is 0, 40000 or 50000',
                })
                .optional(),
            },
            { error: 'must be a mapping (transport, unit: the battery with SunSpec model 124)' },
          )
          .optional(),
        socMinPct: int('the lowest state of charge a discharge may start from, %', 0, 100).default(10),
        socMaxPct: int('the highest state of charge a charge may start from, %', 0, 100).default(95),
        maxDischargeW: int('the most discharge power the installer allows, W', 0, 100_000_000).optional(),
        maxChargeW: int('the most charge power the installer allows, W', 0, 100_000_000).optional(),
        measureAfterSeconds: int('how long after writing to read the response, seconds', 0, 600).default(5),
      },
      { error: 'must be a mapping (enabled, battery, socMinPct, socMaxPct, maxDischargeW, maxChargeW)' },
    )
    .superRefine((d, ctx) => {
      if (d.socMinPct >= d.socMaxPct)
        ctx.addIssue({ code: 'custom', path: ['socMinPct'], message: 'must be below socMaxPct' });
      if (!d.enabled) return;
      for (const k of ['battery', 'maxDischargeW', 'maxChargeW'] as const)
        if (d[k] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [k],
            message: `is required when enabled is true (${k === 'battery' ? 'the battery to write to' : 'the installer’s power limit'})`,
          });
    })
    .prefault({});
}
