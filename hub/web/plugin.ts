// The dashboard as a Fastify plugin: the page and its assets, login and sessions, the JSON
// endpoints under /ui/api/, server-sent events and /metrics. Every route declares who may call
// it (`config.access`); a route without that declaration is refused, so a new route is closed
// until its author opens it. Writes need the session's CSRF token in `x-csrf-token` as well as
// the SameSite=Strict cookie (API tokens, sent as a bearer header, carry no ambient authority and
// need no CSRF token).
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawServerDefault,
} from 'fastify';
import { b64url } from '../../protocol/index.js';
import {
  type EnergyContract,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
  verifyMessage,
} from '../../protocol/messages/index.js';
import { bearerCheck, HttpError, intParam } from '../api/http.js';
import { applyEntry, logEntryFromJws } from '../contracts/fold.js';
import { contractedWhOf } from '../contracts/settlement.js';
import { FailureLimiter } from '../enrolment/failure-limiter.js';
import type { Dashboard } from './dashboard.js';
import { EventStreams } from './events.js';
import { deviceHealth } from './fleet.js';
import { seriesArrays } from './observer.js';
import { dashboardPage } from './page.js';
import { csrfMatches, type Session } from './sessions.js';
import type { Role, User } from './users.js';

export const SESSION_COOKIE = 'wp_session';
export const CSRF_HEADER = 'x-csrf-token';

/** Who may call a route: 'public', or the roles allowed. */
export type Access = 'public' | readonly Role[];

export const ANY_ROLE: readonly Role[] = ['operator', 'validator', 'read-only'];

/** Header paths the hub's pino logger must redact (give them to pino's `redact`). */
export const DASHBOARD_LOG_REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
];

export interface RegisterDashboardOptions {
  /** Where app.js, app.css and uplot.css are (npm run build:web writes dist/hub/web/public). */
  publicDir?: string;
  /** Bearer token for GET /metrics; open when undefined. */
  metricsToken?: string;
}

interface Caller {
  user: User;
  session?: Session;
  sessionId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    dashboardCaller?: Caller;
  }
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.js.map': 'application/json',
  'app.css': 'text/css; charset=utf-8',
  'uplot.css': 'text/css; charset=utf-8',
};

function defaultPublicDir(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');
}

function payloadOf(jws: string): Record<string, unknown> | undefined {
  try {
    const p = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    return p !== null && typeof p === 'object' ? (p as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Registers the dashboard's routes on `app` (call before app.listen). */
export async function registerDashboard<L extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L>,
  d: Dashboard,
  opts: RegisterDashboardOptions = {},
): Promise<{ streams: EventStreams }> {
  const publicDir = opts.publicDir ?? defaultPublicDir();
  const metricsTokenMatches = opts.metricsToken !== undefined ? bearerCheck(opts.metricsToken) : undefined;
  const streams = new EventStreams(d);
  const loginFailures = new FailureLimiter({ maxFailures: 10, windowMs: 10 * 60_000 });
  const log = d.o.log.child({ part: 'dashboard' });

  await app.register(async (ui) => {
    await ui.register(cookie);

    ui.setErrorHandler((err: unknown, _req, reply: FastifyReply) => {
      if (err instanceof HttpError)
        return reply.code(err.statusCode).send({ error: err.code, detail: err.message });
      const e = err as { statusCode?: number; message?: string };
      if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
        return reply.code(e.statusCode).send({ error: 'bad-request', detail: e.message ?? 'bad request' });
      log.error({ event: 'dashboard-error', err: e.message }, 'dashboard request failed');
      return reply.code(500).send({ error: 'internal', detail: 'internal error; see the hub log' });
    });

    ui.addHook('onSend', async (_req, reply, payload) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      return payload;
    });

    // Authorisation of every route in this scope, from its declared access.
    ui.addHook('onRequest', async (req: FastifyRequest) => {
      const access = (req.routeOptions.config as { access?: Access } | undefined)?.access;
      if (access === undefined) throw new HttpError(404, 'not-found', 'no such dashboard route');
      if (access === 'public') return;
      const caller = callerOf(req);
      if (!caller) throw new HttpError(401, 'login-required', 'log in first (POST /ui/api/login)');
      if (!access.includes(caller.user.role))
        throw new HttpError(403, 'forbidden', `the ${caller.user.role} role may not do this`);
      const write = req.method !== 'GET' && req.method !== 'HEAD';
      if (write && caller.session && !csrfMatches(caller.session, req.headers[CSRF_HEADER]))
        throw new HttpError(403, 'csrf', `writes need the session's CSRF token in the ${CSRF_HEADER} header`);
      req.dashboardCaller = caller;
    });

    const callerOf = (req: FastifyRequest): Caller | undefined => {
      const auth = req.headers.authorization;
      if (auth?.startsWith('Bearer ')) {
        const user = d.users.checkToken(auth.slice(7));
        return user ? { user } : undefined;
      }
      const sid = req.cookies[SESSION_COOKIE];
      const session = d.sessions.get(sid);
      if (!session) return undefined;
      return {
        user: { name: session.user, role: session.role },
        session,
        ...(sid ? { sessionId: sid } : {}),
      };
    };
    const caller = (req: FastifyRequest) => req.dashboardCaller as Caller;
    const pub = { config: { access: 'public' as Access } };
    const any = { config: { access: ANY_ROLE as Access } };
    const only = (...roles: Role[]) => ({ config: { access: roles as Access } });

    // --- the page -------------------------------------------------------------------------------
    ui.get('/ui', pub, async (_req, reply) => reply.redirect('/ui/'));
    ui.get('/ui/', pub, async (_req, reply) => reply.type('text/html; charset=utf-8').send(dashboardPage()));
    ui.get('/ui/assets/:file', pub, async (req, reply) => {
      const file = (req.params as { file: string }).file;
      const type = ASSETS[file];
      if (!type) throw new HttpError(404, 'not-found', 'no such asset');
      let body: Buffer;
      try {
        body = readFileSync(path.join(publicDir, file));
      } catch {
        throw new HttpError(404, 'not-built', `${file} is missing; run npm run build:web`);
      }
      return reply.type(type).header('cache-control', 'no-cache').send(body);
    });

    // --- login and session ---------------------------------------------------------------------
    ui.post('/ui/api/login', pub, async (req, reply) => {
      const retry = loginFailures.retryAfterMs(req.ip);
      if (retry > 0) {
        reply.header('retry-after', String(Math.ceil(retry / 1000)));
        throw new HttpError(429, 'too-many-attempts', 'too many failed logins from this address; wait');
      }
      const body = (req.body ?? {}) as Record<string, unknown>;
      let user: User | undefined;
      if (typeof body.token === 'string') user = d.users.checkToken(body.token);
      else if (
        typeof body.user === 'string' &&
        typeof body.password === 'string' &&
        body.password.length <= 1024
      )
        user = await d.users.checkPassword(body.user, body.password);
      else throw new HttpError(400, 'bad-request', 'send {"user", "password"} or {"token"}');
      if (!user) {
        loginFailures.fail(req.ip);
        log.warn({ event: 'login-refused', source: req.ip });
        throw new HttpError(401, 'login-refused', 'wrong user name or password');
      }
      const { id, session } = d.sessions.create(user);
      reply.setCookie(SESSION_COOKIE, id, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: d.secureCookies,
        maxAge: Math.floor((session.expiresMs - session.createdMs) / 1000),
      });
      log.info({ event: 'login', user: user.name, role: user.role });
      return { user: user.name, role: user.role, csrf: session.csrf, expiresMs: session.expiresMs };
    });

    ui.post('/ui/api/logout', any, async (req, reply) => {
      const c = caller(req);
      d.sessions.delete(c.sessionId);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { ok: true };
    });

    ui.get('/ui/api/session', any, async (req) => {
      const c = caller(req);
      return {
        user: c.user.name,
        role: c.user.role,
        csrf: c.session?.csrf ?? null,
        expiresMs: c.session?.expiresMs ?? null,
      };
    });

    // --- fleet ------------------------------------------------------------------------------------
    ui.get('/ui/api/fleet', any, async () => d.fleet());

    ui.get('/ui/api/gateways/:id', any, async (req) => {
      const gw = (req.params as { id: string }).id;
      const binding = d.o.bindings.get(gw);
      const o = d.observer.gateways.get(gw);
      if (!binding && !o)
        throw new HttpError(404, 'gateway-unknown', `no gateway ${gw.slice(0, 40)} is known`);
      const head = d.headOf(gw);
      const cp = d.o.ledger.latestCheckpoint();
      const from = head ? Math.max(0, head.seq - 199) : 0;
      const chain = d.o.ledger.gatewayChain(gw, from, 200).map((e) => {
        const p = payloadOf(e.jws) ?? {};
        const iv = p.interval as { start?: number; end?: number } | undefined;
        const imp = p.importWh as { start: number; end: number } | undefined;
        const exp = p.exportWh as { start: number; end: number } | undefined;
        return {
          index: e.index,
          seq: e.seq,
          typ: e.typ,
          receivedMs: e.receivedMs,
          meter: (p.meter as { id?: string } | undefined)?.id ?? null,
          interval: iv ? { start: iv.start, end: iv.end } : null,
          importWh: imp ? imp.end - imp.start : null,
          exportWh: exp ? exp.end - exp.start : null,
          flags: Array.isArray(p.flags) ? p.flags : [],
          receipted: cp ? e.index < cp.size : false,
        };
      });
      const state = d.follower.state;
      const contracts = Object.values(state.contracts)
        .filter((c) =>
          [...c.contract.deliveryPoints.seller, ...c.contract.deliveryPoints.buyer].some((p) => p.gw === gw),
        )
        .map(contractSummary);
      const health = deviceHealth(o, d.now(), d.o.config.alerts.deviceStaleSeconds * 1000);
      return {
        gw,
        binding: binding
          ? {
              site: binding.site,
              participant: binding.participant,
              index: binding.index,
              publicKey: b64url.encode(binding.publicKey),
            }
          : null,
        status: o?.status ?? null,
        lastSeenMs: o?.lastSeenMs ?? null,
        health: health.health,
        devices: health.devices.map((dv) => ({
          ...dv,
          points: [...(o?.devices.get(dv.name)?.points.keys() ?? [])].sort(),
        })),
        reportedBacklog: o?.reportedBacklog ?? null,
        chain,
        gaps: d.follower.gapsByGateway.get(gw) ?? [],
        equivocations: d.o.equivocations
          .after(0, 10_000)
          .filter((q) => q.gw === gw)
          .map((q) => ({
            id: q.id,
            seq: q.seq,
            conflictingIndex: q.conflictingIndex,
            receivedMs: q.receivedMs,
          })),
        contracts,
        alerts: d.alerts.list().active.filter((a) => a.gw === gw),
      };
    });

    ui.get('/ui/api/gateways/:id/telemetry', any, async (req) => {
      const gw = (req.params as { id: string }).id;
      const since = intParam((req.query as Record<string, unknown>).since, 'since', 0);
      const o = d.observer.gateways.get(gw);
      const devices: Record<string, Record<string, { t: number[]; v: number[] }>> = {};
      for (const [name, dev] of o?.devices ?? []) {
        const points: Record<string, { t: number[]; v: number[] }> = {};
        for (const [point, s] of dev.points) points[point] = seriesArrays(s, since);
        devices[name] = points;
      }
      return { gw, devices };
    });

    // --- ledger -----------------------------------------------------------------------------------
    ui.get('/ui/api/keys', any, async () => ({
      hub: {
        id: d.o.hub.id,
        publicKey: b64url.encode(d.o.hub.publicKey),
        logOrigin: d.o.hub.logOrigin,
        logVerifierKey: d.o.hub.logVerifierKey,
      },
      validators: d.validators.map((v) => ({ id: v.id, publicKey: b64url.encode(v.publicKey) })),
    }));

    ui.get('/ui/api/ledger/entries', any, async (req) => {
      const q = req.query as Record<string, unknown>;
      const size = d.o.ledger.size;
      const end = Math.min(intParam(q.end, 'end', size), size);
      const start = intParam(q.start, 'start', Math.max(0, end - 100));
      if (end < start) throw new HttpError(400, 'bad-request', 'end: must be ≥ start');
      if (end - start > 1000) throw new HttpError(400, 'bad-request', 'at most 1000 entries at once');
      const cp = d.o.ledger.latestCheckpoint();
      return {
        size,
        checkpointSize: cp?.size ?? 0,
        entries: d.o.ledger.range(start, end).map((e) => ({
          index: e.index,
          typ: e.typ,
          kid: e.kid,
          gw: e.gw,
          seq: e.seq,
          receivedMs: e.receivedMs,
          leafHash: b64url.encode(e.leafHash),
          jws: e.jws,
        })),
      };
    });

    ui.get('/ui/api/ledger/checkpoints', any, async (req) => {
      const q = req.query as Record<string, unknown>;
      const latest = d.o.ledger.latestCheckpoint();
      const from = intParam(q.from, 'from', 0);
      const list = d.o.ledger.checkpoints(from, 200);
      return {
        latest: latest ? { size: latest.size, note: latest.note, createdMs: latest.createdMs } : null,
        checkpoints: list.map((c) => ({
          size: c.size,
          root: b64url.encode(c.root),
          createdMs: c.createdMs,
          note: c.note,
        })),
      };
    });

    ui.get('/ui/api/ledger/entries/:index/proof', any, async (req) => {
      const index = intParam((req.params as Record<string, unknown>).index, 'index');
      const e = d.o.ledger.entry(index);
      if (!e) throw new HttpError(404, 'no-entry', `no entry ${index}; the log has ${d.o.ledger.size}`);
      const cp = d.o.ledger.latestCheckpoint();
      if (!cp || cp.size <= index)
        throw new HttpError(
          409,
          'not-checkpointed',
          'no checkpoint covers this entry yet; try again shortly',
        );
      return {
        index,
        jws: e.jws,
        leafHash: b64url.encode(e.leafHash),
        size: cp.size,
        checkpoint: cp.note,
        proof: d.o.ledger.inclusionProof(index, cp.size).map((h) => b64url.encode(h)),
      };
    });

    // --- contracts, validator, prices, alerts ---------------------------------------------------------
    ui.get('/ui/api/contracts', any, async () => {
      const s = d.follower.state;
      return {
        size: s.size,
        contracts: Object.values(s.contracts).map(contractSummary),
        participants: Object.values(s.registry.participants).map((p) => ({
          id: p.id,
          role: p.role,
          status: p.status,
          region: p.region,
          gateways: p.gateways,
          ...s.money.accounts[p.id],
        })),
        money: { creditedMinor: s.money.creditedMinor, unpaidMinor: s.money.unpaidMinor },
        currency: d.o.config.currency,
      };
    });

    ui.get('/ui/api/validator/queue', any, async () => {
      const s = d.follower.state;
      const pending = Object.values(s.registry.participants)
        .filter((p) => p.status === 'pending')
        .map((p) => {
          const app = d.o.ledger.entry(p.appliedIndex);
          return {
            id: p.id,
            role: p.role,
            region: p.region,
            gridNode: p.gridNode,
            energies: p.energies,
            gateways: p.gateways,
            capacityW: p.capacityW,
            appliedIndex: p.appliedIndex,
            inputsHash: app ? b64url.encode(app.messageHash) : null,
          };
        });
      const proposed = Object.values(s.contracts)
        .filter((c) => c.status === 'proposed')
        .map((c) => {
          const sig = c.signatures.buyer ?? c.signatures.seller;
          const e = sig !== null ? d.o.ledger.entry(sig) : undefined;
          return { ...contractSummary(c), inputsHash: e ? b64url.encode(e.messageHash) : null };
        });
      return {
        validators: d.validators.map((v) => ({ id: v.id, publicKey: b64url.encode(v.publicKey) })),
        pendingRegistrations: pending,
        proposedContracts: proposed,
        congestion: d.follower.decisions
          .filter((x) => x.decision.kind === 'congestion')
          .map((x) => ({ index: x.index, ...x.decision })),
        disputes: d.follower.decisions
          .filter((x) => x.decision.kind === 'dispute')
          .map((x) => ({ index: x.index, ...x.decision })),
        recentDecisions: d.follower.decisions.slice(-50).map((x) => ({ index: x.index, ...x.decision })),
      };
    });

    ui.post('/ui/api/validator/decisions', only('validator'), async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body.jws !== 'string' || body.jws.length > 64 * 1024)
        throw new HttpError(400, 'bad-request', 'jws: required, the signed validator decision (compact JWS)');
      if (!d.o.appendEntry) throw new HttpError(503, 'not-wired', 'this hub does not append decisions');
      const keys = new Map(d.validators.map((v) => [v.id, v.publicKey]));
      const checked = verifyMessage(body.jws, {
        typ: VALIDATOR_DECISION_TYP,
        publicKeyFor: (kid) => keys.get(kid),
        ...(d.o.verifySignature ? { verifySignature: d.o.verifySignature } : {}),
      });
      if (!checked.ok)
        throw new HttpError(
          checked.reason === 'kid-unknown' ? 403 : 400,
          checked.reason,
          checked.reason === 'kid-unknown'
            ? 'signed by a key that is not one of this hub’s validators'
            : checked.detail,
        );
      // Would the fold apply it? Try on a copy, so a decision that cannot apply is never appended.
      d.follow();
      const trial = structuredClone(d.follower.state);
      const entry = logEntryFromJws(trial.size, body.jws);
      const outcome = entry ? applyEntry(trial, entry, d.follower.config) : undefined;
      if (!outcome || outcome.status === 'refused')
        throw new HttpError(
          409,
          outcome?.status === 'refused' ? outcome.code : 'not-applicable',
          outcome?.status === 'refused' ? outcome.message : 'the decision does not apply',
        );
      const { index } = d.o.appendEntry(body.jws, VALIDATOR_DECISION_TYP, checked.header.kid);
      d.follow();
      const decision = checked.payload as ValidatorDecision;
      log.info({
        event: 'validator-decision',
        user: caller(req).user.name,
        kind: decision.kind,
        subject: decision.subject,
        outcome: decision.outcome,
        index,
      });
      return reply.code(201).send({ index });
    });

    ui.get('/ui/api/prices', any, async () => ({
      series: d.o.prices?.series() ?? [],
      available: d.o.prices !== undefined,
    }));

    ui.get('/ui/api/alerts', any, async () => ({ ...d.alerts.list(), thresholds: d.alerts.thresholds }));

    ui.post('/ui/api/alerts/:id/ack', only('operator'), async (req) => {
      const id = (req.params as { id: string }).id;
      const a = d.alerts.acknowledge(id, caller(req).user.name);
      if (!a) throw new HttpError(404, 'no-alert', `no active alert ${id.slice(0, 100)}`);
      return a;
    });

    // --- live updates ---------------------------------------------------------------------------------
    ui.get('/ui/api/events', any, async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const gw = typeof q.gw === 'string' && q.gw.length <= 64 ? q.gw : undefined;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        ...SECURITY_HEADERS,
      });
      streams.add(res, caller(req).sessionId, gw);
    });
  });

  // Prometheus scrapes without a dashboard session; a bearer token guards it when configured.
  app.get('/metrics', async (req, reply) => {
    if (metricsTokenMatches !== undefined) {
      if (!metricsTokenMatches(req.headers.authorization))
        return reply
          .code(401)
          .send({ error: 'metrics-token', detail: 'GET /metrics needs the metrics bearer token' });
    }
    const m = await d.metrics.text();
    return reply.type(m.contentType).send(m.body);
  });

  app.addHook('onReady', async () => streams.start());
  app.addHook('onClose', async () => streams.stop());

  function contractSummary(c: (typeof d.follower.state.contracts)[string]) {
    const contract = c.contract as EnergyContract;
    const isEnergy = contract.product === 'energy';
    return {
      id: c.id,
      status: c.status,
      seller: c.contract.seller,
      buyer: c.contract.buyer,
      energy: c.contract.energy,
      window: c.contract.window,
      deliveryPoints: c.contract.deliveryPoints,
      contractedWh: isEnergy ? contractedWhOf(contract) : null,
      priceMinorPerKWh: isEnergy ? contract.priceMinorPerKWh : null,
      deliveredWh: c.settlement?.payload.deliveredWh ?? null,
      paymentMinor: c.settlement?.payload.paymentMinor ?? null,
      penaltyMinor: c.settlement?.payload.penaltyMinor ?? null,
      settlementOutcome: c.settlement?.payload.outcome ?? null,
      proofs: c.proofs.length,
      escrow: c.escrow,
      review: c.review,
      history: c.history,
    };
  }

  return { streams };
}
