// The hub's configuration: one YAML file checked with zod. Errors name the key and say what is
// expected; relative paths are taken relative to the config file. docs/hub-cli.md documents it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SETTLEMENT_PERIODS_MS } from '../protocol/units.js';
import { marketRulesSchema } from './markets/rules.js';
import { dashboardConfigSchema } from './web/config.js';

const port = z.int().min(0).max(65535);
const host = z.string().min(1);

const embedded = z.strictObject({
  host: host.default('127.0.0.1'),
  /** 0 picks a free port (tests). */
  port: port.default(1883),
});

const external = z.strictObject({
  /** mqtt:// or mqtts:// URL of the broker the hub connects to. */
  url: z.string().regex(/^mqtts?:\/\/.+/, 'must be an mqtt:// or mqtts:// URL'),
  /** The hub's own MQTT username (the ACL gives it wattproof/v1/#). */
  username: z.string().min(1).default('hub'),
  password: z.string().min(16, 'must be at least 16 characters').optional(),
  passwordFile: z.string().min(1).optional(),
  /** Where the hub writes Mosquitto's password file (its password_file). */
  mosquittoPasswordFile: z.string().min(1),
  /** Where the hub writes Mosquitto's ACL file (its acl_file). */
  mosquittoAclFile: z.string().min(1),
  /** Mosquitto's pid_file, so the hub can send SIGHUP after rewriting the files. */
  mosquittoPidFile: z.string().min(1).optional(),
  /** CA certificate (PEM) to check the broker's TLS certificate with (mqtts://). */
  caFile: z.string().min(1).optional(),
});

export const hubConfigSchema = z.strictObject({
  /** Holds ledger.db and hub.key (created on first start, mode 0600). */
  dataDir: z.string().min(1),
  ledger: z
    .strictObject({
      /** The checkpoint origin line (and note key name). Default: wattproof/<hub id>. */
      origin: z
        .string()
        .regex(/^[^\s+]+$/, 'must be one word without spaces or "+", e.g. hub.example.org/wattproof')
        .optional(),
      checkpointEvery: z.int().min(1).default(4096),
      checkpointIntervalMs: z.int().min(10).default(500),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      gapWaitMs: z.int().min(0).default(30_000),
      maxPendingPerGateway: z.int().min(1).default(1000),
      /**
       * Worker threads that verify signatures and schemas; 0 = on the main thread; "auto" = one
       * fewer than the cores (at most 4), so the ledger keeps a core of its own.
       */
      verifyWorkers: z
        .union([z.literal('auto'), z.int().min(0).max(64)], {
          error: 'must be "auto" or a whole number of threads from 0 to 64',
        })
        .default('auto'),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: host.default('127.0.0.1'),
      port: port.default(8080),
      /** Bearer token for operator endpoints; or operatorTokenFile. At least 32 characters. */
      operatorToken: z
        .string()
        .min(32, 'must be at least 32 characters (use: openssl rand -base64 32)')
        .optional(),
      operatorTokenFile: z.string().min(1).optional(),
    })
    .prefault({}),
  broker: z
    .strictObject({
      embedded: embedded.optional(),
      external: external.optional(),
      /** The broker URL told to gateways at enrolment. Default: the broker's own URL. */
      publicUrl: z
        .string()
        .regex(/^mqtts?:\/\/.+/, 'must be an mqtt:// or mqtts:// URL')
        .optional(),
    })
    .prefault({})
    .refine((b) => !(b.embedded && b.external), {
      message: 'name either embedded or external, not both',
    }),
  enrolment: z
    .strictObject({
      tokenTtlSeconds: z
        .int()
        .min(1)
        .max(7 * 24 * 3600)
        .default(900),
      maxFailures: z.int().min(1).default(10),
      failureWindowSeconds: z.int().min(1).default(600),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    })
    .prefault({}),
  /** Contracts, validator reviews and markets at run time (docs/hub.md). */
  engine: z
    .strictObject({
      /** The ledger's one currency (ISO 4217). */
      currency: z
        .string()
        .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR')
        .default('EUR'),
      /** Wait this long after a delivery window for late proofs before settling. */
      settlementGraceSeconds: z.int().min(0).default(1800),
      /** The validator's policy file (YAML); absent: the simple rule sets. */
      validatorPolicyFile: z.string().min(1).optional(),
      /** The grid model file (YAML, docs/validator.md); needed when the policy manages congestion. */
      gridModelFile: z.string().min(1).optional(),
      /** Length of a congestion interval (one congestion decision each), seconds. */
      congestionPeriodSeconds: z
        .int()
        .refine((s) => SETTLEMENT_PERIODS_MS.includes(s * 1000), {
          message: `must be one of ${SETTLEMENT_PERIODS_MS.map((ms) => ms / 1000).join(', ')} seconds`,
        })
        .default(900),
      /** How long before a congestion interval starts it is decided (and re-decided on change), seconds. */
      congestionLeadSeconds: z
        .int()
        .min(1)
        .max(7 * 24 * 3600)
        .default(3600),
      /** Market rules (docs/markets.md); absent: no market. */
      market: marketRulesSchema.optional(),
    })
    .prefault({}),
  /** The web dashboard (docs/dashboard.md); served at /ui/ when present. */
  dashboard: dashboardConfigSchema.optional(),
});

export type HubConfig = z.output<typeof hubConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function keyPath(p: readonly PropertyKey[]): string {
  return p.map(String).join('.') || '(top level)';
}

/** Validates a parsed config object; relative paths are resolved against `baseDir`. */
export function parseHubConfig(raw: unknown, baseDir: string): HubConfig {
  const r = hubConfigSchema.safeParse(raw ?? {});
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys') {
        return `${keyPath(i.path)}: unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')} (check the spelling in docs/hub-cli.md)`;
      }
      if (i.code === 'invalid_type' && (i as { input?: unknown }).input === undefined) {
        return `${keyPath(i.path)}: required`;
      }
      return `${keyPath(i.path)}: ${i.message}`;
    });
    throw new ConfigError(`invalid hub config:\n  ${lines.join('\n  ')}`);
  }
  const c = r.data;
  if (!c.http.operatorToken && !c.http.operatorTokenFile) {
    throw new ConfigError('invalid hub config:\n  http.operatorToken: required (or http.operatorTokenFile)');
  }
  const ext = c.broker.external;
  if (ext && !ext.password && !ext.passwordFile) {
    throw new ConfigError(
      'invalid hub config:\n  broker.external.password: required (or broker.external.passwordFile)',
    );
  }
  const abs = (p: string) => path.resolve(baseDir, p);
  c.dataDir = abs(c.dataDir);
  if (c.http.operatorTokenFile) c.http.operatorTokenFile = abs(c.http.operatorTokenFile);
  if (c.engine.validatorPolicyFile) c.engine.validatorPolicyFile = abs(c.engine.validatorPolicyFile);
  if (c.engine.gridModelFile) {
    if (!c.engine.validatorPolicyFile)
      throw new ConfigError(
        'invalid hub config:\n  engine.gridModelFile: needs engine.validatorPolicyFile (the policy says how congestion is managed); add the policy or remove the grid model',
      );
    c.engine.gridModelFile = abs(c.engine.gridModelFile);
  }
  if (c.dashboard?.metrics.bearerTokenFile)
    c.dashboard.metrics.bearerTokenFile = abs(c.dashboard.metrics.bearerTokenFile);
  if (ext) {
    ext.mosquittoPasswordFile = abs(ext.mosquittoPasswordFile);
    ext.mosquittoAclFile = abs(ext.mosquittoAclFile);
    if (ext.mosquittoPidFile) ext.mosquittoPidFile = abs(ext.mosquittoPidFile);
    if (ext.passwordFile) ext.passwordFile = abs(ext.passwordFile);
    if (ext.caFile) ext.caFile = abs(ext.caFile);
  }
  return c;
}

export function loadHubConfig(file: string): HubConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  return parseHubConfig(raw, path.dirname(path.resolve(file)));
}

/** Reads a secret from a file (first line, trimmed). */
export function readSecretFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n')[0]?.trim() ?? '';
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? ''}`);
  }
}
