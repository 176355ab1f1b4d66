// The hub's HTTP API (Fastify 5: body limits, JSON parsing and error handling done well, and
// `inject` for tests). Reads are public: anyone may fetch checkpoints, entries and proofs and check
// them. Writes need the operator bearer token, except enrolment, which the one-time token
// authenticates. docs/hub.md lists the endpoints.
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { b64url, noteVerifierKey } from '../../protocol/index.js';
import type { Enrolment } from '../enrolment/enrol.js';
import type { EnrollTokens } from '../enrolment/tokens.js';
import type { EquivocationStore } from '../ingest/equivocations.js';
import type { FleetState } from '../ingest/ingest.js';
import type { HubKey } from '../keys.js';
import type { Bindings } from '../ledger/bindings.js';
import { type Entry, type Ledger, MAX_RANGE } from '../ledger/ledger.js';
import { bearerCheck, HttpError, intParam } from './http.js';

export interface ApiDeps {
  ledger: Ledger;
  bindings: Bindings;
  enrolment: Enrolment;
  tokens: EnrollTokens;
  equivocations: EquivocationStore;
  hubKey: HubKey;
  operatorToken: string;
  defaultTokenTtlMs: number;
  stats: () => Record<string, unknown>;
  fleet: () => Iterable<FleetState>;
  log: Logger;
}

export function entryJson(e: Entry): Record<string, unknown> {
  return {
    index: e.index,
    leaf: e.jws,
    leafHash: b64url.encode(e.leafHash),
    messageHash: b64url.encode(e.messageHash),
    typ: e.typ,
    kid: e.kid,
    gw: e.gw,
    seq: e.seq,
    receivedMs: e.receivedMs,
  };
}

export type Api = ReturnType<typeof buildApi>;

export function buildApi(deps: ApiDeps) {
  const app = Fastify({
    loggerInstance: deps.log.child({ part: 'http' }),
    bodyLimit: 64 * 1024,
    trustProxy: false,
  });
  const { ledger } = deps;
  const operatorTokenMatches = bearerCheck(deps.operatorToken);

  const requireOperator = async (req: FastifyRequest): Promise<void> => {
    if (!operatorTokenMatches(req.headers.authorization)) {
      throw new HttpError(
        401,
        'operator-token',
        'this endpoint needs the operator bearer token (Authorization: Bearer …)',
      );
    }
  };

  app.setErrorHandler((err: unknown, _req, reply: FastifyReply) => {
    if (err instanceof HttpError)
      return reply.code(err.statusCode).send({ error: err.code, detail: err.message });
    if (err instanceof RangeError) return reply.code(400).send({ error: 'bad-request', detail: err.message });
    const e = err as { statusCode?: number; message?: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error: 'bad-request', detail: e.message ?? 'bad request' });
    }
    deps.log.error({ event: 'http-error', err: e.message }, 'request failed');
    return reply.code(500).send({ error: 'internal', detail: 'internal error; see the hub log' });
  });

  app.get('/v1/checkpoint', async (_req, reply) => {
    const cp = ledger.latestCheckpoint();
    if (!cp) throw new HttpError(404, 'no-checkpoint', 'the log has no checkpoint yet');
    return reply.type('text/plain; charset=utf-8').send(cp.note);
  });

  app.get('/v1/checkpoints', async (req) => {
    const q = req.query as Record<string, unknown>;
    const from = intParam(q.from, 'from', 0);
    const limit = Math.min(intParam(q.limit, 'limit', MAX_RANGE), MAX_RANGE);
    return {
      checkpoints: ledger.checkpoints(from, limit).map((c) => ({
        size: c.size,
        root: b64url.encode(c.root),
        note: c.note,
        createdMs: c.createdMs,
      })),
    };
  });

  app.get('/v1/entries/:index', async (req) => {
    const index = intParam((req.params as Record<string, unknown>).index, 'index');
    const e = ledger.entry(index);
    if (!e) throw new HttpError(404, 'no-entry', `no entry ${index}; the log has ${ledger.size}`);
    return entryJson(e);
  });

  app.get('/v1/entries', async (req) => {
    const q = req.query as Record<string, unknown>;
    const start = intParam(q.start, 'start');
    const end = intParam(q.end, 'end', Math.min(start + MAX_RANGE, ledger.size));
    if (end < start) throw new HttpError(400, 'bad-request', 'end: must be ≥ start');
    return { size: ledger.size, entries: ledger.range(start, end).map(entryJson) };
  });

  app.get('/v1/proof/inclusion', async (req) => {
    const q = req.query as Record<string, unknown>;
    const index = intParam(q.index, 'index');
    const size = intParam(q.size, 'size', ledger.latestCheckpoint()?.size ?? ledger.size);
    if (index >= size) throw new HttpError(400, 'bad-request', `index: must be below size ${size}`);
    const leaf = ledger.entry(index);
    return {
      index,
      size,
      leafHash: leaf ? b64url.encode(leaf.leafHash) : null,
      proof: ledger.inclusionProof(index, size).map((h) => b64url.encode(h)),
    };
  });

  app.get('/v1/proof/consistency', async (req) => {
    const q = req.query as Record<string, unknown>;
    const first = intParam(q.first, 'first');
    const second = intParam(q.second, 'second');
    if (first > second) throw new HttpError(400, 'bad-request', 'first: must be ≤ second');
    return { first, second, proof: ledger.consistencyProof(first, second).map((h) => b64url.encode(h)) };
  });

  app.get('/v1/gateways/:id/chain', async (req) => {
    const gw = String((req.params as Record<string, unknown>).id);
    const binding = deps.bindings.get(gw);
    if (!binding) throw new HttpError(404, 'gateway-unknown', `no gateway ${gw.slice(0, 40)} is enrolled`);
    const q = req.query as Record<string, unknown>;
    const from = intParam(q.from, 'from', 0);
    const limit = Math.min(intParam(q.limit, 'limit', MAX_RANGE), MAX_RANGE);
    return {
      gw,
      publicKey: b64url.encode(binding.publicKey),
      bindingIndex: binding.index,
      site: binding.site,
      entries: ledger.gatewayChain(gw, from, limit).map(entryJson),
    };
  });

  app.get('/v1/keys', async () => ({
    hub: {
      id: deps.hubKey.hubId,
      publicKey: b64url.encode(deps.hubKey.publicKey),
      logOrigin: ledger.origin,
      logVerifierKey: noteVerifierKey(ledger.origin ?? '', deps.hubKey.publicKey),
    },
    gateways: Object.fromEntries(deps.bindings.all().map((b) => [b.gw, b64url.encode(b.publicKey)])),
  }));

  app.get('/v1/stats', async () => ({ size: ledger.size, ...deps.stats() }));

  app.get('/v1/equivocations', async (req) => {
    const q = req.query as Record<string, unknown>;
    const after = intParam(q.after, 'after', 0);
    return {
      equivocations: deps.equivocations.after(after).map((e) => ({
        id: e.id,
        gw: e.gw,
        seq: e.seq,
        jws: e.jws,
        messageHash: b64url.encode(e.messageHash),
        conflictingHash: b64url.encode(e.conflictingHash),
        conflictingIndex: e.conflictingIndex,
        receivedMs: e.receivedMs,
      })),
    };
  });

  app.get('/v1/fleet', { preHandler: requireOperator }, async () => ({ gateways: [...deps.fleet()] }));

  app.post('/v1/enroll-tokens', { preHandler: requireOperator }, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.site !== 'string') throw new HttpError(400, 'bad-request', 'site: required, a string');
    if (body.participant !== undefined && body.participant !== null && typeof body.participant !== 'string') {
      throw new HttpError(400, 'bad-request', 'participant: must be a participant id');
    }
    if (
      body.ttlSeconds !== undefined &&
      (typeof body.ttlSeconds !== 'number' || !Number.isInteger(body.ttlSeconds))
    ) {
      throw new HttpError(400, 'bad-request', 'ttlSeconds: must be an integer');
    }
    const created = deps.tokens.create({
      site: body.site,
      participant: (body.participant as string | null | undefined) ?? null,
      ttlMs: body.ttlSeconds !== undefined ? (body.ttlSeconds as number) * 1000 : deps.defaultTokenTtlMs,
    });
    deps.log.info({ event: 'enroll-token-created', site: created.site, expiresAt: created.expiresAt });
    return reply.code(201).send(created);
  });

  app.post('/v1/enroll', async (req, reply) => {
    const result = deps.enrolment.enrol(req.body, req.ip);
    if (!result.ok) {
      const status =
        result.error === 'bad-request'
          ? 400
          : result.error === 'token-unknown'
            ? 401
            : result.error === 'too-many-attempts'
              ? 429
              : 410;
      if (result.retryAfterMs) reply.header('retry-after', String(Math.ceil(result.retryAfterMs / 1000)));
      deps.log.warn({ event: 'enroll-refused', reason: result.error, source: req.ip });
      return reply.code(status).send({ error: result.error, detail: result.detail });
    }
    deps.log.info({
      event: 'gateway-enrolled',
      gw: result.gatewayId,
      site: result.site,
      newBinding: result.newBinding,
    });
    const { ok: _ok, newBinding: _nb, ...body } = result;
    return reply.code(201).send(body);
  });

  return app;
}
