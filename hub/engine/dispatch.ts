// The hub's dispatch at run time: the operator asks (POST /v1/dispatch, operator bearer token) for
// a setpoint under an active flexibility contract; the command is planned from the ledger state
// (hub/markets/dispatch.ts), signed by the hub, appended (the fold records it on the contract) and
// sent to the seller's gateway on gw/{id}/cmd/dispatch (QoS 1, not retained). The gateway's signed
// response comes back on gw/{id}/event and is ledgered by ingest; the fold records it beside the
// command, and settlement pays by the flexibility rules. GET /v1/dispatch/{contract} shows the
// commands, their answers and the settlement as it stands. docs/markets.md, "Dispatch".
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawServerDefault,
} from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { b64url } from '../../protocol/index.js';
import {
  DISPATCH_COMMAND_TYP,
  type DispatchCommand,
  type FlexibilityContract,
} from '../../protocol/messages/index.js';
import { topics } from '../../protocol/topics.js';
import { bearerCheck } from '../api/http.js';
import type { LedgerState } from '../contracts/fold.js';
import { type DispatchRequest, planDispatch } from '../markets/dispatch.js';
import { type DispatchRecord, measuredFromProofs, settleFlexibility } from '../markets/flexibility.js';

/** What dispatch needs from the engine (Engine.dispatchPort()). */
export interface HubDispatchPort {
  clock: () => number;
  publish: (topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }) => void;
  state: () => LedgerState;
  /**
   * Signs and appends one hub entry built from the up-to-date state, inside the ledger's single
   * writer (null appends nothing). Returns the entry's index, message hash, compact JWS and what
   * the fold made of it.
   */
  appendHubSigned: (
    build: (state: LedgerState) => { typ: typeof DISPATCH_COMMAND_TYP; payload: unknown } | null,
  ) =>
    | {
        index: number;
        messageHash: string;
        jws: string;
        outcome: { status: string; code?: string; message?: string };
      }
    | undefined;
  log: Logger;
}

export class DispatchError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DispatchError';
  }
}

export interface IssuedDispatch {
  command: DispatchCommand;
  index: number;
  messageHash: string;
  jws: string;
}

export class HubDispatcher {
  readonly counters = { issued: 0, refused: 0 };

  constructor(private readonly port: HubDispatchPort) {}

  /** Plans, signs, appends and sends a dispatch command; throws DispatchError when none can be issued. */
  dispatch(req: DispatchRequest): IssuedDispatch {
    const { port } = this;
    let refusal: DispatchError | undefined;
    let command: DispatchCommand | undefined;
    const r = port.appendHubSigned((state) => {
      const rec = Object.hasOwn(state.contracts, req.contract) ? state.contracts[req.contract] : undefined;
      const plan = planDispatch(rec, req, port.clock(), b64url.encode(randomBytes(16)));
      if (!plan.ok) {
        refusal = new DispatchError(plan.status, plan.code, plan.message);
        return null;
      }
      command = plan.command;
      return { typ: DISPATCH_COMMAND_TYP, payload: plan.command };
    });
    if (refusal !== undefined || r === undefined || command === undefined) {
      this.counters.refused++;
      throw refusal ?? new DispatchError(500, 'not-appended', 'the command was not appended');
    }
    if (r.outcome.status === 'refused') {
      // Kept in the ledger as evidence, but the contract does not count it: do not send it.
      this.counters.refused++;
      throw new DispatchError(
        409,
        r.outcome.code ?? 'refused',
        r.outcome.message ?? 'the fold refused the command',
      );
    }
    port.publish(topics.command(command.gw, 'dispatch'), r.jws, { qos: 1, retain: false });
    this.counters.issued++;
    port.log.info(
      {
        event: 'dispatch-sent',
        contract: command.contract,
        gw: command.gw,
        setpointW: command.setpointW,
        index: r.index,
      },
      'dispatch command sent',
    );
    return { command, index: r.index, messageHash: r.messageHash, jws: r.jws };
  }

  /** The contract's commands with their answers, and its settlement as it would be now. */
  view(contractId: string) {
    const state = this.port.state();
    const rec = Object.hasOwn(state.contracts, contractId) ? state.contracts[contractId] : undefined;
    if (rec === undefined)
      throw new DispatchError(404, 'unknown-contract', `no contract ${contractId} in the ledger`);
    if (rec.contract.product !== 'flexibility')
      throw new DispatchError(422, 'not-flexibility', `${contractId} is not a flexibility contract`);
    const c = rec.contract as FlexibilityContract;
    const dispatches: DispatchRecord[] = rec.dispatches ?? [];
    const measured = measuredFromProofs(c, rec.proofs);
    return {
      contract: contractId,
      status: rec.status,
      dispatches: dispatches.map((d) => ({
        hash: d.hash,
        index: d.index,
        command: d.command,
        response: d.response,
      })),
      measured,
      settlement: settleFlexibility(contractId, c, dispatches, measured),
      settled: rec.settlement?.payload ?? null,
    };
  }
}

const ID = /^ct-[A-Za-z0-9_-]{43}$/;
const utc = z.int('must be UTC ms').min(0).max(Number.MAX_SAFE_INTEGER);
const dispatchBody = z.strictObject({
  contract: z.string().regex(ID, 'must be a contract id ("ct-" and 43 base64url characters)'),
  gw: z
    .string()
    .regex(/^gw-[a-z2-7]{16}$/, 'must be a gateway id')
    .optional(),
  setpointW: z.int('must be whole W (+ discharge, − charge)').min(-100_000_000).max(100_000_000),
  start: utc.optional(),
  end: utc,
  expiresInMs: z.int().min(1000, 'at least 1000 ms').max(86_400_000).optional(),
});

/** POST /v1/dispatch (operator) and GET /v1/dispatch/:contract (public, like the ledger). */
export async function registerDispatchApi<L extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L>,
  deps: { dispatcher: HubDispatcher; operatorToken: string },
): Promise<void> {
  const operator = bearerCheck(deps.operatorToken);
  const route =
    (fn: (req: FastifyRequest, reply: FastifyReply) => unknown) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        return await fn(req, reply);
      } catch (err) {
        if (err instanceof DispatchError)
          return reply.code(err.statusCode).send({ error: err.code, detail: err.message });
        req.log.error(
          { event: 'dispatch-api-error', err: (err as Error).message },
          'dispatch request failed',
        );
        return reply.code(500).send({ error: 'internal', detail: 'internal error; see the hub log' });
      }
    };
  app.post(
    '/v1/dispatch',
    route((req, reply) => {
      if (!operator(req.headers.authorization))
        throw new DispatchError(
          401,
          'operator-token',
          'this endpoint needs the operator bearer token (Authorization: Bearer …)',
        );
      const body = dispatchBody.safeParse(req.body);
      if (!body.success)
        throw new DispatchError(
          400,
          'bad-request',
          body.error.issues
            .map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`)
            .join('; '),
        );
      const { gw, start, expiresInMs, ...rest } = body.data;
      const issued = deps.dispatcher.dispatch({
        ...rest,
        ...(gw !== undefined ? { gw } : {}),
        ...(start !== undefined ? { start } : {}),
        ...(expiresInMs !== undefined ? { expiresInMs } : {}),
      });
      return reply.code(201).send(issued);
    }),
  );
  app.get(
    '/v1/dispatch/:contract',
    route((req, reply) => {
      const { contract } = req.params as { contract: string };
      if (!ID.test(contract)) throw new DispatchError(400, 'bad-request', 'contract: must be a contract id');
      return reply.send(deps.dispatcher.view(contract));
    }),
  );
}
