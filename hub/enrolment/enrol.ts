// Gateway enrolment: a one-time token plus the gateway's public key buys MQTT credentials, and the
// hub appends a signed binding (gateway id <-> key) to the ledger. Token use, the binding entry and
// the credentials are written in one transaction: either all of it happened or none.
// HTTP-agnostic: the API maps EnrolResult to a response (docs/hub.md, "Enrolment").
import { b64url, gatewayIdOf, noteVerifierKey } from '../../protocol/index.js';
import { GATEWAY_BINDING_TYP, type GatewayBinding, signMessage } from '../../protocol/messages/index.js';
import { type MqttCredentials, newMqttPassword } from '../broker/credentials.js';
import type { HubKey } from '../keys.js';
import type { Bindings } from '../ledger/bindings.js';
import type { Ledger } from '../ledger/ledger.js';
import type { FailureLimiter } from './failure-limiter.js';
import type { EnrollTokens, TokenRefusal } from './tokens.js';

export interface EnrolmentDeps {
  ledger: Ledger;
  bindings: Bindings;
  tokens: EnrollTokens;
  credentials: MqttCredentials;
  hubKey: HubKey;
  /** The broker URL gateways should connect to (told to them in the answer). */
  gatewayBrokerUrl: string;
  limiter: FailureLimiter;
  /** Called after credentials changed (the Mosquitto files are rewritten here). */
  onCredentialsChanged?: () => void;
  now?: () => number;
}

export type EnrolRefusal = 'bad-request' | TokenRefusal | 'too-many-attempts';

export interface EnrolSuccess {
  ok: true;
  gatewayId: string;
  site: string;
  participant: string | null;
  mqtt: { url: string; username: string; password: string; topicPrefix: string };
  hub: { id: string; publicKey: string; logOrigin: string; logVerifierKey: string };
  binding: { index: number; leafHash: string };
  /** Whether this enrolment appended a new binding (false when the key was already bound). */
  newBinding: boolean;
}

export interface EnrolFailure {
  ok: false;
  error: EnrolRefusal;
  detail: string;
  retryAfterMs?: number;
}

const DETAILS: Record<TokenRefusal, string> = {
  'token-unknown': 'no such enrolment token: check it was copied whole, or ask the operator for a new one',
  'token-used': 'this enrolment token was already used; ask the operator for a new one',
  'token-expired': 'this enrolment token has expired; ask the operator for a new one',
};

function badRequest(detail: string): EnrolFailure {
  return { ok: false, error: 'bad-request', detail };
}

export class Enrolment {
  private readonly now: () => number;

  constructor(private readonly deps: EnrolmentDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Handles one enrolment request body from `source` (the client's address). Never throws on bad input. */
  enrol(body: unknown, source: string): EnrolSuccess | EnrolFailure {
    const { limiter, ledger, tokens } = this.deps;
    const wait = limiter.retryAfterMs(source);
    if (wait > 0) {
      return {
        ok: false,
        error: 'too-many-attempts',
        detail: 'too many failed enrolment attempts from this address; wait and retry',
        retryAfterMs: wait,
      };
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return badRequest('the body must be a JSON object {"token": "...", "publicKey": "..."}');
    }
    const { token, publicKey, gatewayId } = body as Record<string, unknown>;
    if (typeof token !== 'string' || token.length === 0) return badRequest('token: required, a string');
    if (typeof publicKey !== 'string') return badRequest('publicKey: required, base64url of 32 bytes');
    let key: Uint8Array;
    try {
      key = b64url.decode(publicKey);
    } catch {
      return badRequest('publicKey: not canonical base64url (no padding)');
    }
    if (key.length !== 32)
      return badRequest(`publicKey: an Ed25519 public key has 32 bytes, not ${key.length}`);
    const gw = gatewayIdOf(key);
    if (gatewayId !== undefined && gatewayId !== gw) {
      return badRequest(`gatewayId: ${String(gatewayId)} is not the id of this publicKey (${gw})`);
    }
    const existing = this.deps.bindings.get(gw);

    const password = newMqttPassword();
    let result: EnrolSuccess | EnrolFailure;
    try {
      result = ledger.transaction(() => {
        const used = tokens.consume(token, gw);
        if (!used.ok) return { ok: false, error: used.reason, detail: DETAILS[used.reason] } as EnrolFailure;
        let bindingIndex: number;
        let bindingLeafHash: Uint8Array;
        if (existing) {
          bindingIndex = existing.index;
          bindingLeafHash = ledger.entry(existing.index)?.leafHash ?? new Uint8Array(32);
        } else {
          const payload: GatewayBinding = {
            gw,
            publicKey: b64url.encode(key),
            site: used.binding.site,
            ...(used.binding.participant ? { participant: used.binding.participant } : {}),
            at: this.now(),
          };
          const jws = signMessage(
            GATEWAY_BINDING_TYP,
            this.deps.hubKey.hubId,
            payload,
            this.deps.hubKey.secretKey,
          );
          const [entry] = ledger.append([
            {
              jws,
              typ: GATEWAY_BINDING_TYP,
              kid: this.deps.hubKey.hubId,
              gw: null,
              seq: null,
              receivedMs: this.now(),
            },
          ]);
          if (!entry) throw new Error('append returned no entry');
          this.deps.bindings.add({
            gw,
            publicKey: key,
            index: entry.index,
            site: used.binding.site,
            participant: used.binding.participant,
          });
          bindingIndex = entry.index;
          bindingLeafHash = entry.leafHash;
        }
        this.deps.credentials.set(gw, password);
        return this.success(gw, used.binding, password, bindingIndex, bindingLeafHash, !existing);
      });
    } catch (err) {
      this.deps.bindings.clearCache();
      throw err;
    }
    // Only token refusals count: they are what guessing looks like.
    if (!result.ok && result.error.startsWith('token-')) limiter.fail(source);
    else this.deps.onCredentialsChanged?.();
    return result;
  }

  private success(
    gw: string,
    binding: { site: string; participant: string | null },
    password: string,
    index: number,
    leafHash: Uint8Array,
    newBinding: boolean,
  ): EnrolSuccess {
    const { hubKey, ledger } = this.deps;
    const origin = ledger.origin ?? '';
    return {
      ok: true,
      gatewayId: gw,
      site: binding.site,
      participant: binding.participant,
      mqtt: {
        url: this.deps.gatewayBrokerUrl,
        username: gw,
        password,
        topicPrefix: `wattproof/v1/gw/${gw}/`,
      },
      hub: {
        id: hubKey.hubId,
        publicKey: b64url.encode(hubKey.publicKey),
        logOrigin: origin,
        logVerifierKey: noteVerifierKey(origin, hubKey.publicKey),
      },
      binding: { index, leafHash: b64url.encode(leafHash) },
      newBinding,
    };
  }
}
