// The agent's one configuration file: YAML, checked against this schema before anything else
// happens. Every key is documented in docs/agent-config.md (a test keeps the two in step) and shown
// in deploy/agent/agent.example.yaml. A bad file produces messages that name the key path, the bad
// value and what is allowed; loading never writes anything.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { dispatchConfigSchema } from './dispatch/config.js';

export const DEFAULT_CONFIG_PATH = '/etc/wattproof/agent.yaml';

/** Settlement periods that divide an hour, so every boundary falls on the same wall-clock marks. */
export const SETTLEMENT_MINUTES = [1, 5, 15, 30, 60] as const;

const int = (what: string) =>
  z.number({ error: `must be a whole number (${what})` }).int(`must be a whole number (${what})`);

const bounded = (lo: number, hi: number, what: string) =>
  int(what)
    .min(lo, { error: `${what} is ${lo}..${hi}` })
    .max(hi, { error: `${what} is ${lo}..${hi}` });

const nonEmpty = (what: string) =>
  z.string({ error: `must be text (${what})` }).min(1, `must not be empty (${what})`);

const mapping = (what: string) => ({ error: `must be a mapping (${what})` });

const tcpTransport = z.strictObject(
  {
    type: z.literal('tcp'),
    host: nonEmpty('a host name or IP address of the Modbus TCP device or gateway'),
    port: bounded(1, 65535, 'a TCP port').default(502),
    timeoutMs: bounded(50, 60_000, 'a request timeout in milliseconds').default(1000),
  },
  mapping('type: tcp, host, port'),
);

const serialTransport = z.strictObject(
  {
    type: z.literal('serial'),
    path: nonEmpty('a serial device such as /dev/ttyUSB0 or /dev/serial/by-path/...'),
    baud: z
      .union(
        [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].map((b) => z.literal(b)) as [
          z.ZodLiteral<number>,
          z.ZodLiteral<number>,
          ...z.ZodLiteral<number>[],
        ],
        { error: 'baud is one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200' },
      )
      .default(9600),
    parity: z.enum(['none', 'even', 'odd'], { error: 'parity is none, even or odd' }).default('none'),
    dataBits: z.union([z.literal(7), z.literal(8)], { error: 'dataBits is 7 or 8' }).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)], { error: 'stopBits is 1 or 2' }).default(1),
    timeoutMs: bounded(50, 60_000, 'a request timeout in milliseconds').default(1000),
  },
  mapping('type: serial, path, baud, parity'),
);

export const METER_ROLES = ['grid', 'pv', 'battery', 'ev', 'heatpump', 'load', 'heat', 'gas'] as const;

const device = z
  .strictObject(
    {
      name: z
        .string({ error: 'must be text (a short name for the device)' })
        .regex(
          /^[a-z0-9][a-z0-9-]{0,31}$/,
          'a device name is 1..32 of a-z, 0-9 and -, starting with a letter or digit',
        ),
      transport: z.discriminatedUnion('type', [tcpTransport, serialTransport], {
        error: 'transport.type is tcp or serial',
      }),
      unit: bounded(1, 247, 'a Modbus unit id'),
      kind: z.enum(['sunspec', 'profile'], { error: 'kind is sunspec (discover SunSpec models) or profile' }),
      profile: nonEmpty('the name of a device profile, e.g. sdm630').optional(),
      sunspecBase: z
        .union([z.literal(0), z.literal(40000), z.literal(50000)], {
          error: 'a SunSpec base address is 0, 40000 or 50000',
        })
        .optional(),
      serial: z
        .string({ error: 'must be text (the serial number printed on the device)' })
        .regex(/^[^\p{Cc}]{1,64}$/u, 'a serial number is 1..64 printable characters')
        .optional(),
      pollSeconds: bounded(1, 3600, 'a poll interval in seconds').default(5),
      calorificValueWhPerM3: bounded(
        1000,
        50_000,
        'the declared calorific value of the gas in Wh per m³, e.g. 10550',
      ).optional(),
      role: z.enum(METER_ROLES, { error: `role is one of ${METER_ROLES.join(', ')}` }),
    },
    mapping('name, transport, unit, kind, role'),
  )
  .superRefine((d, ctx) => {
    if (d.kind === 'profile' && d.profile === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['profile'],
        message: 'kind is profile, so name the profile (e.g. sdm630)',
      });
    }
    if (d.kind === 'sunspec' && d.profile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['profile'],
        message: 'a profile is only used with kind: profile',
      });
    }
    if (d.kind === 'sunspec' && d.calorificValueWhPerM3 !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['calorificValueWhPerM3'],
        message: 'a calorific value is only for gas meters read through a profile (kind: profile)',
      });
    }
  });

const hub = z
  .strictObject(
    {
      url: z
        .string({ error: 'must be text (the broker URL)' })
        .regex(
          /^(mqtt|mqtts|ws|wss):\/\/[^\s/]+/,
          'the broker URL is mqtt://, mqtts://, ws:// or wss:// followed by host[:port]',
        ),
      protocolVersion: z
        .union([z.literal(4), z.literal(5)], { error: 'protocolVersion is 4 (MQTT 3.1.1) or 5 (MQTT 5)' })
        .default(5),
      username: nonEmpty('an MQTT user name').optional(),
      password: nonEmpty('an MQTT password').optional(),
      passwordFile: nonEmpty('a file holding the MQTT password').optional(),
      credentialsFile: nonEmpty('the credentials file written by `wattproof-agent enroll`').optional(),
      clientCert: nonEmpty('a PEM client certificate file').optional(),
      clientKey: nonEmpty('a PEM client key file').optional(),
      ca: nonEmpty('a PEM CA bundle file').optional(),
      keepaliveSeconds: bounded(5, 1200, 'an MQTT keepalive in seconds').default(30),
      reconnectMinMs: bounded(100, 600_000, 'a reconnect delay in milliseconds').default(1000),
      reconnectMaxMs: bounded(100, 3_600_000, 'a reconnect delay in milliseconds').default(60_000),
      maxInFlight: bounded(1, 1000, 'how many unreceipted messages may be on the wire at once').default(20),
      receiptTimeoutSeconds: bounded(
        1,
        3600,
        'how long to wait for a receipt before resending, in seconds',
      ).default(30),
    },
    mapping('with url: the hub broker'),
  )
  .superRefine((h, ctx) => {
    if (h.password !== undefined && h.passwordFile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['passwordFile'],
        message: 'give password or passwordFile, not both',
      });
    }
    if ((h.clientCert === undefined) !== (h.clientKey === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [h.clientCert === undefined ? 'clientCert' : 'clientKey'],
        message: 'a client certificate needs both clientCert and clientKey',
      });
    }
    if (h.reconnectMaxMs < h.reconnectMinMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['reconnectMaxMs'],
        message: 'reconnectMaxMs must be ≥ reconnectMinMs',
      });
    }
  });

const gateway = z
  .strictObject(
    {
      stateDir: nonEmpty('a directory for the key, the outbox and the status file').default(
        '/var/lib/wattproof',
      ),
      settlementMinutes: z
        .union(
          SETTLEMENT_MINUTES.map((m) => z.literal(m)) as unknown as [
            z.ZodLiteral<number>,
            z.ZodLiteral<number>,
          ],
          {
            error: `settlementMinutes is one of ${SETTLEMENT_MINUTES.join(', ')} (15 is the default; 1 for demos)`,
          },
        )
        .default(15),
      lateReadingSeconds: bounded(
        1,
        600,
        "how late an interval's end reading may be taken, in seconds",
      ).default(30),
    },
    mapping('stateDir, settlementMinutes, lateReadingSeconds'),
  )
  .prefault({});

const clock = z
  .strictObject(
    {
      syncCheck: z
        .enum(['auto', 'timedatectl', 'timesyncd', 'chronyc', 'ntpstat', 'file', 'assume-synchronised'], {
          error: 'syncCheck is auto, timedatectl, timesyncd, chronyc, ntpstat, file or assume-synchronised',
        })
        .default('auto'),
      syncFile: nonEmpty('a file whose presence means the clock is synchronised').default(
        '/run/systemd/timesync/synchronized',
      ),
      checkSeconds: bounded(1, 3600, 'how often to re-check clock synchronisation, in seconds').default(60),
      jumpToleranceSeconds: bounded(1, 3600, 'a clock step larger than this is treated as a jump').default(5),
    },
    mapping('syncCheck, syncFile, checkSeconds'),
  )
  .prefault({});

const telemetry = z
  .strictObject(
    {
      enabled: z.boolean({ error: 'enabled is true or false' }).default(true),
      intervalSeconds: bounded(1, 3600, 'a telemetry batch interval in seconds').default(10),
      bufferSize: bounded(1, 1_000_000, 'how many telemetry samples are kept while offline').default(1000),
      expirySeconds: bounded(1, 86_400, 'an MQTT 5 message expiry in seconds').default(60),
    },
    mapping('enabled, intervalSeconds, bufferSize'),
  )
  .prefault({});

const logging = z
  .strictObject(
    {
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], {
          error: 'level is fatal, error, warn, info, debug or trace',
        })
        .default('info'),
      format: z.enum(['auto', 'json', 'pretty'], { error: 'format is auto, json or pretty' }).default('auto'),
    },
    mapping('level, format'),
  )
  .prefault({});

/** host:port on a loopback address only: the figures are for a scraper on the same machine. */
const LOOPBACK_LISTEN =
  /^(?:127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}|localhost|\[::1\]):(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}|0)$/;

const metrics = z
  .strictObject(
    {
      enabled: z.boolean({ error: 'enabled is true or false' }).default(false),
      listen: z
        .string({ error: 'must be text (a loopback address and port)' })
        .regex(
          LOOPBACK_LISTEN,
          'listen is a loopback address and a port 0..65535, e.g. 127.0.0.1:9464 or [::1]:9464 (0 picks a free port)',
        )
        .default('127.0.0.1:9464'),
    },
    mapping('enabled, listen'),
  )
  .prefault({});

export const agentConfigSchema = z
  .strictObject(
    {
      gateway,
      hub,
      devices: z.array(device, { error: 'devices is a list of devices' }).max(64, 'at most 64 devices'),
      clock,
      telemetry,
      logging,
      dispatch: dispatchConfigSchema(
        z.discriminatedUnion('type', [tcpTransport, serialTransport], {
          error: 'transport.type is tcp or serial',
        }),
      ),
      metrics,
    },
    mapping('the file holds gateway, hub, devices, clock, telemetry, logging, metrics, dispatch'),
  )
  .superRefine((c, ctx) => {
    if (c.gateway.lateReadingSeconds * 2 > c.gateway.settlementMinutes * 60) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'lateReadingSeconds'],
        message: 'must be at most half of the settlement period',
      });
    }
    const seen = new Map<string, number>();
    c.devices.forEach((d, i) => {
      const first = seen.get(d.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'name'],
          message: `device names must be unique; devices[${first}] is also called ${d.name}`,
        });
      } else seen.set(d.name, i);
    });
  });

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type DeviceConfig = AgentConfig['devices'][number];
export type HubConfig = AgentConfig['hub'];

/** The settlement period in milliseconds. */
export function settlementPeriodMs(c: AgentConfig): number {
  return c.gateway.settlementMinutes * 60_000;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** `devices[1].unit` from ['devices', 1, 'unit']. */
export function formatPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const k of p) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out === '' ? String(k) : `.${String(k)}`;
  }
  return out === '' ? '(top level)' : out;
}

function valueAt(root: unknown, p: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let cur: unknown = root;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return { found: false, value: undefined };
    if (!Object.hasOwn(cur, k as string)) return { found: false, value: undefined };
    cur = (cur as Record<PropertyKey, unknown>)[k as string];
  }
  return { found: true, value: cur };
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** Secrets never appear in error messages, even when they are the bad value. */
const SECRET_KEYS = new Set(['password']);

/** Turns zod's issues into one line each: `path: value is not allowed; what is allowed`. */
export function describeIssues(raw: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const where = formatPath([...issue.path, key]);
        lines.push(`${where}: unknown key; check its spelling against docs/agent-config.md`);
      }
      continue;
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0 && 'discriminator' in issue) {
      // A discriminated union with a bad tag: zod reports it on the parent; name the tag.
      const where = formatPath([...issue.path, String(issue.discriminator)]);
      const v = valueAt(raw, [...issue.path, String(issue.discriminator)]);
      lines.push(`${where}: ${v.found ? `${show(v.value)} is not allowed` : 'missing'}; ${issue.message}`);
      continue;
    }
    const where = formatPath(issue.path);
    const v = valueAt(raw, issue.path);
    const last = issue.path[issue.path.length - 1];
    const secret = typeof last === 'string' && SECRET_KEYS.has(last);
    const what = !v.found
      ? 'missing'
      : secret
        ? 'the value given is not allowed'
        : `${show(v.value)} is not allowed`;
    lines.push(`${where}: ${what}; ${issue.message}`);
  }
  return lines;
}

/** Parses and validates YAML text; throws ConfigError listing every problem. Pure: no I/O. */
export function parseAgentConfig(text: string, file = '<config>'): AgentConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0]}`),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = agentConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, describeIssues(raw, result.error.issues));
  const config = result.data;
  // Relative paths in the file mean "relative to the file", not to wherever the command ran.
  if (file !== '<config>') {
    const base = path.dirname(path.resolve(file));
    const abs = (p: string) => path.resolve(base, p);
    config.gateway.stateDir = abs(config.gateway.stateDir);
    for (const k of ['passwordFile', 'credentialsFile', 'clientCert', 'clientKey', 'ca'] as const) {
      const v = config.hub[k];
      if (v !== undefined) config.hub[k] = abs(v);
    }
    config.clock.syncFile = abs(config.clock.syncFile);
  }
  return config;
}

/** Reads and validates a config file. Throws ConfigError (also when the file cannot be read). */
export function loadAgentConfig(file: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [
      code === 'ENOENT'
        ? `the file does not exist; pass --config FILE or create ${file} (see deploy/agent/agent.example.yaml)`
        : `cannot be read (${code ?? String(err)})`,
    ]);
  }
  return parseAgentConfig(text, file);
}

/** Every key path of the schema, e.g. 'devices[].transport.host', for the doc completeness test. */
export function schemaKeyPaths(): string[] {
  const out: string[] = [];
  const walk = (s: z.core.$ZodType, prefix: string): void => {
    const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
    switch (def.type) {
      case 'default':
      case 'prefault':
      case 'optional':
      case 'nullable':
        walk(def.innerType as z.core.$ZodType, prefix);
        return;
      case 'pipe':
        walk(def.in as z.core.$ZodType, prefix);
        return;
      case 'array':
        walk(def.element as z.core.$ZodType, `${prefix}[]`);
        return;
      case 'union': {
        for (const o of def.options as z.core.$ZodType[]) walk(o, prefix);
        return;
      }
      case 'object': {
        const shape = def.shape as Record<string, z.core.$ZodType>;
        for (const [k, v] of Object.entries(shape)) {
          const p = prefix === '' ? k : `${prefix}.${k}`;
          out.push(p);
          walk(v, p);
        }
        return;
      }
      default:
        return;
    }
  };
  walk(agentConfigSchema, '');
  return [...new Set(out)];
}
