// The engine's HTTP endpoints (a Fastify plugin beside the hub's API): participants apply, sign
// contracts, cancel and post orders with their own signatures — the signature is the
// authorisation; the operator credits accounts with the operator bearer token. Reads are public,
// like the ledger they come from. docs/hub.md, "Contracts, validator and markets at run time".
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawServerDefault,
} from 'fastify';
import { z } from 'zod';
import { decodeJwsUnverified } from '../../protocol/index.js';
import {
  COMPLAINT_TYP,
  CONTRACT_CANCELLATION_TYP,
  DEREGISTRATION_REQUEST_TYP,
  DISPUTE_TYP,
  ORDER_TYP,
  PARTICIPANT_APPLICATION_TYP,
} from '../../protocol/messages/index.js';
import { bearerCheck, HttpError } from '../api/http.js';
import { CONTRACT_STATUSES, type ContractRecord } from '../contracts/index.js';
import { orderStatusOf } from '../markets/contract-fold.js';
import { HubDispatcher, registerDispatchApi } from './dispatch.js';
import { type Engine, EngineError, type EngineReceipt } from './engine.js';
import { parsePriceHistoryQuery } from './price-history.js';

export interface EngineApiDeps {
  engine: Engine;
  /** The operator bearer token (the same one the hub's API checks). */
  operatorToken: string;
}

const jwsBody = z.strictObject({
  jws: z
    .string('must be the compact JWS as a string')
    .min(1)
    .max(64 * 1024, 'at most 64 KiB'),
});

const creditBody = z.strictObject({
  account: z.string().regex(/^pt-[a-z2-7]{16}$/, 'must be a participant id (pt- and 16 characters a-z, 2-7)'),
  amountMinor: z
    .int('must be a whole number of minor units')
    .min(1, 'must be at least 1')
    .max(Number.MAX_SAFE_INTEGER),
  reference: z.string().min(1, 'name the bank transfer (or other) reference').max(128),
});

const ID = /^[A-Za-z0-9_-]{1,80}$/;

const reasonsBody = z
  .array(
    z.strictObject({
      code: z
        .string()
        .regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'must be a kebab-case code such as "meter-fault-shown"')
        .max(64),
      message: z.string().min(1, 'say why, for people').max(500),
    }),
  )
  .min(1, 'name at least one reason')
  .max(100);

const participantIdBody = z
  .string()
  .regex(/^pt-[a-z2-7]{16}$/, 'must be a participant id (pt- and 16 characters a-z, 2-7)');

const rulingBody = z.strictObject({
  outcome: z.enum(['upheld', 'rejected'], 'must be "upheld" or "rejected"'),
  reasons: reasonsBody,
  refund: z
    .strictObject({
      from: participantIdBody,
      to: participantIdBody,
      amountMinor: z.int('must be a whole number of minor units').min(1).max(Number.MAX_SAFE_INTEGER),
    })
    .optional(),
});

const complaintDecisionBody = z.strictObject({
  outcome: z.enum(['upheld', 'rejected'], 'must be "upheld" or "rejected"'),
  reasons: reasonsBody,
});

/** The payload member `key` of a compact JWS, without verifying it (the engine verifies). */
function named(jws: string, key: string): unknown {
  return (decodeJwsUnverified(jws)?.payload as Record<string, unknown> | undefined)?.[key];
}

/** A ruling that cannot be made (not open, refund above its bound): 409 with the ruling's code. */
function asConflict(err: unknown): never {
  const e = err as { name?: string; code?: unknown; message?: string };
  if ((e.name === 'ValidatorError' || e.name === 'RulingError') && typeof e.code === 'string')
    throw new EngineError(409, e.code, e.message ?? e.code);
  throw err;
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const detail = r.error.issues
    .map((i) => {
      const at = i.path.map(String).join('.') || '(body)';
      if (i.code === 'unrecognized_keys') return `${at}: unknown key ${i.keys.join(', ')}`;
      return `${at}: ${i.message}`;
    })
    .join('; ');
  throw new EngineError(400, 'bad-request', detail);
}

/** 201 when appended and applied, 200 for a duplicate, 422 when the fold refused it (kept as evidence). */
function statusOf(receipts: EngineReceipt[]): number {
  if (receipts.some((r) => r.outcome?.status === 'refused')) return 422;
  return receipts.some((r) => r.status === 'appended') ? 201 : 200;
}

function contractSummary(rec: ContractRecord) {
  return {
    id: rec.id,
    status: rec.status,
    product: rec.contract.product,
    energy: rec.contract.energy,
    seller: rec.contract.seller,
    buyer: rec.contract.buyer,
    window: rec.contract.window,
    escrow: rec.escrow,
    settlement: rec.settlement?.payload ?? null,
  };
}

/** Registers the engine's routes on `app` (call before app.listen). */
export async function registerEngineApi<L extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L>,
  deps: EngineApiDeps,
): Promise<void> {
  const { engine } = deps;
  const operatorTokenMatches = bearerCheck(deps.operatorToken);
  const requireOperator = (req: FastifyRequest): void => {
    if (!operatorTokenMatches(req.headers.authorization))
      throw new EngineError(
        401,
        'operator-token',
        'this endpoint needs the operator bearer token (Authorization: Bearer …)',
      );
  };

  // One wrapper gives every route the same error shape ({error, detail}) whatever the app's handler.
  const route =
    (fn: (req: FastifyRequest, reply: FastifyReply) => unknown) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        return await fn(req, reply);
      } catch (err) {
        if (err instanceof EngineError || err instanceof HttpError)
          return reply.code(err.statusCode).send({ error: err.code, detail: err.message });
        req.log.error({ event: 'engine-api-error', err: (err as Error).message }, 'engine request failed');
        return reply.code(500).send({ error: 'internal', detail: 'internal error; see the hub log' });
      }
    };

  const state = () => engine.ledgerState;
  // Dispatch under flexibility contracts: POST /v1/dispatch, GET /v1/dispatch/:contract (dispatch.ts).
  await registerDispatchApi(app, {
    dispatcher: new HubDispatcher(engine.dispatchPort()),
    operatorToken: deps.operatorToken,
  });

  app.post(
    '/v1/participants',
    route((req, reply) => {
      const { jws } = parseBody(jwsBody, req.body);
      const r = engine.submitSigned(jws, PARTICIPANT_APPLICATION_TYP);
      return reply.code(statusOf([r])).send({ receipt: r });
    }),
  );

  app.post(
    '/v1/contracts',
    route((req, reply) => {
      const receipts = engine.submitContract(req.body);
      const rec = receipts[0] ? contractIdOfReceipts(engine, receipts) : undefined;
      return reply.code(statusOf(receipts)).send({ contract: rec, receipts });
    }),
  );

  app.post(
    '/v1/contracts/:id/cancel',
    route((req, reply) => {
      const { id } = req.params as { id: string };
      const { jws } = parseBody(jwsBody, req.body);
      const named = (decodeJwsUnverified(jws)?.payload as { contract?: unknown } | undefined)?.contract;
      if (named !== id)
        throw new EngineError(
          400,
          'contract-mismatch',
          `the cancellation names contract ${String(named)}, not ${id}`,
        );
      const r = engine.submitSigned(jws, CONTRACT_CANCELLATION_TYP);
      return reply.code(statusOf([r])).send({ receipt: r, status: state().contracts[id]?.status ?? null });
    }),
  );

  app.post(
    '/v1/orders',
    route((req, reply) => {
      const { jws } = parseBody(jwsBody, req.body);
      const r = engine.submitSigned(jws, ORDER_TYP);
      return reply.code(statusOf([r])).send({ receipt: r });
    }),
  );

  app.post(
    '/v1/credits',
    route((req, reply) => {
      requireOperator(req);
      const body = parseBody(creditBody, req.body);
      const r = engine.credit(body);
      return reply
        .code(statusOf([r]))
        .send({ receipt: r, account: state().money.accounts[body.account] ?? null });
    }),
  );

  app.get(
    '/v1/participants/:id',
    route((req, reply) => {
      const { id } = req.params as { id: string };
      const p = ID.test(id) ? state().registry.participants[id] : undefined;
      if (!p) throw new EngineError(404, 'unknown-participant', `no application from ${id} in the log`);
      const account = state().money.accounts[id] ?? { available: 0, escrow: 0 };
      return reply.send({ participant: p, account });
    }),
  );

  app.get(
    '/v1/accounts/:id',
    route((req, reply) => {
      const { id } = req.params as { id: string };
      if (!ID.test(id) || state().registry.participants[id] === undefined)
        throw new EngineError(404, 'unknown-account', `no participant ${id} in the log`);
      const a = state().money.accounts[id] ?? { available: 0, escrow: 0 };
      return reply.send({ account: id, currency: engine.foldConfig.currency, ...a });
    }),
  );

  app.get(
    '/v1/contracts',
    route((req, reply) => {
      const q = req.query as { status?: string; participant?: string };
      if (q.status !== undefined && !(CONTRACT_STATUSES as readonly string[]).includes(q.status))
        throw new EngineError(400, 'bad-request', `status: must be one of ${CONTRACT_STATUSES.join(', ')}`);
      const list = Object.values(state().contracts)
        .filter((r) => q.status === undefined || r.status === q.status)
        .filter(
          (r) =>
            q.participant === undefined ||
            r.contract.seller === q.participant ||
            r.contract.buyer === q.participant,
        )
        .sort((a, b) => (a.history[0]?.index ?? 0) - (b.history[0]?.index ?? 0))
        .map(contractSummary);
      return reply.send({ contracts: list });
    }),
  );

  app.get(
    '/v1/contracts/:id',
    route((req, reply) => {
      const { id } = req.params as { id: string };
      const rec = ID.test(id) ? state().contracts[id] : undefined;
      if (!rec) throw new EngineError(404, 'unknown-contract', `no contract ${id} in the log`);
      const notices = state().notices.filter((n) => n.contract === id);
      // A market-made contract rests on the hub's match and the two signed orders instead.
      const authorisation =
        rec.market === undefined
          ? null
          : {
              match: engine.entryJws(rec.market.matchIndex) ?? null,
              offer: engine.entryJws(rec.signatures.seller ?? -1) ?? null,
              bid: engine.entryJws(rec.signatures.buyer ?? -1) ?? null,
            };
      return reply.send({
        contract: rec,
        signed: engine.signedContractOf(rec) ?? null,
        authorisation,
        notices,
      });
    }),
  );

  // Disputes, complaints and deregistration requests: signed by the participant, whose signature is
  // the authorisation. The validator's rulings on them: the operator bearer token.

  app.post(
    '/v1/contracts/:id/disputes',
    route((req, reply) => {
      const { id } = req.params as { id: string };
      const { jws } = parseBody(jwsBody, req.body);
      if (named(jws, 'contract') !== id)
        throw new EngineError(
          400,
          'contract-mismatch',
          `the dispute names contract ${String(named(jws, 'contract'))}, not ${id}`,
        );
      const r = engine.submitSigned(jws, DISPUTE_TYP);
      return reply.code(statusOf([r])).send({
        receipt: r,
        dispute: state().disputes[r.messageHash] ?? null,
        status: state().contracts[id]?.status ?? null,
      });
    }),
  );

  app.post(
    '/v1/complaints',
    route((req, reply) => {
      const { jws } = parseBody(jwsBody, req.body);
      const r = engine.submitSigned(jws, COMPLAINT_TYP);
      return reply
        .code(statusOf([r]))
        .send({ receipt: r, complaint: state().complaints[r.messageHash] ?? null });
    }),
  );

  app.post(
    '/v1/participants/:id/deregistration',
    route((req, reply) => {
      const { id } = req.params as { id: string };
      const { jws } = parseBody(jwsBody, req.body);
      if (named(jws, 'participant') !== id)
        throw new EngineError(
          400,
          'participant-mismatch',
          `the request names participant ${String(named(jws, 'participant'))}, not ${id}`,
        );
      const r = engine.submitSigned(jws, DEREGISTRATION_REQUEST_TYP);
      return reply
        .code(statusOf([r]))
        .send({ receipt: r, participant: state().registry.participants[id] ?? null });
    }),
  );

  app.post(
    '/v1/disputes/:hash/ruling',
    route((req, reply) => {
      requireOperator(req);
      const { hash } = req.params as { hash: string };
      const body = parseBody(rulingBody, req.body);
      if (!ID.test(hash) || !Object.hasOwn(state().disputes, hash))
        throw new EngineError(404, 'unknown-dispute', `no dispute ${hash} in the log`);
      let r: EngineReceipt;
      try {
        r = engine.decide((v, s, at) => v.rule(s, hash, body, at));
      } catch (err) {
        asConflict(err);
      }
      return reply.code(statusOf([r])).send({ receipt: r, dispute: state().disputes[hash] ?? null });
    }),
  );

  app.post(
    '/v1/complaints/:hash/decision',
    route((req, reply) => {
      requireOperator(req);
      const { hash } = req.params as { hash: string };
      const body = parseBody(complaintDecisionBody, req.body);
      if (!ID.test(hash) || !Object.hasOwn(state().complaints, hash))
        throw new EngineError(404, 'unknown-complaint', `no complaint ${hash} in the log`);
      let r: EngineReceipt;
      try {
        r = engine.decide((v, s, at) => v.decideComplaint(s, hash, body.outcome, body.reasons, at));
      } catch (err) {
        asConflict(err);
      }
      return reply.code(statusOf([r])).send({ receipt: r, complaint: state().complaints[hash] ?? null });
    }),
  );

  app.get(
    '/v1/disputes',
    route((req, reply) => {
      const q = req.query as { contract?: string; status?: string };
      const list = Object.values(state().disputes)
        .filter((d) => q.contract === undefined || d.contract === q.contract)
        .filter((d) => q.status === undefined || d.status === q.status)
        .sort((a, b) => a.index - b.index);
      return reply.send({ disputes: list });
    }),
  );

  app.get(
    '/v1/disputes/:hash',
    route((req, reply) => {
      const { hash } = req.params as { hash: string };
      const d = ID.test(hash) && Object.hasOwn(state().disputes, hash) ? state().disputes[hash] : undefined;
      if (!d) throw new EngineError(404, 'unknown-dispute', `no dispute ${hash} in the log`);
      return reply.send({ dispute: d });
    }),
  );

  app.get(
    '/v1/complaints',
    route((req, reply) => {
      const q = req.query as { about?: string; status?: string };
      const list = Object.values(state().complaints)
        .filter((c) => q.about === undefined || c.about === q.about)
        .filter((c) => q.status === undefined || c.status === q.status)
        .sort((a, b) => a.index - b.index);
      return reply.send({ complaints: list });
    }),
  );

  app.get(
    '/v1/complaints/:hash',
    route((req, reply) => {
      const { hash } = req.params as { hash: string };
      const c =
        ID.test(hash) && Object.hasOwn(state().complaints, hash) ? state().complaints[hash] : undefined;
      if (!c) throw new EngineError(404, 'unknown-complaint', `no complaint ${hash} in the log`);
      return reply.send({ complaint: c });
    }),
  );

  app.get(
    '/v1/orders/:hash',
    route((req, reply) => {
      const { hash } = req.params as { hash: string };
      const o = ID.test(hash) ? orderStatusOf(state(), hash, engine.now()) : undefined;
      if (!o) throw new EngineError(404, 'unknown-order', `no order ${hash} in the log`);
      return reply.send(o);
    }),
  );

  app.get(
    '/v1/prices',
    route((req, reply) => {
      const q = req.query as { region?: string; energy?: string };
      const prices = engine
        .latestPrices()
        .filter(
          (p) =>
            (q.region === undefined || p.region === q.region) &&
            (q.energy === undefined || p.energy === q.energy),
        );
      return reply.send({ prices });
    }),
  );

  // Every publication of one region and energy, from the index the engine's fold keeps
  // (price-history.ts): a request reads only the leaves of its page.
  app.get(
    '/v1/prices/history',
    route((req, reply) => {
      const q = parsePriceHistoryQuery(req.query as Record<string, unknown>);
      return reply.send(engine.priceHistory(q));
    }),
  );
}

function contractIdOfReceipts(engine: Engine, receipts: EngineReceipt[]): string | undefined {
  for (const r of receipts) {
    const id =
      r.outcome?.status === 'applied' || r.outcome?.status === 'refused' ? r.outcome.contract : undefined;
    if (id) return id;
  }
  // Duplicates carry no outcome: find the contract by its signature's leaf.
  for (const rec of Object.values(engine.ledgerState.contracts))
    if (receipts.some((r) => r.index === rec.signatures.seller || r.index === rec.signatures.buyer))
      return rec.id;
  return undefined;
}
