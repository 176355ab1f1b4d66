// A dispatch command off gw/{id}/cmd/dispatch, checked for who signed it. The hub's key is the one
// the gateway learned at enrolment (hubId, hubPublicKey in the credentials file). What can be
// answered is answered: a command whose signature fails but whose payload names a contract gets a
// signed refusal; one that cannot even be read is logged and counted, with nothing to answer.
import { decodeJwsUnverified, messageHashB64, verifyJws } from '../../protocol/index.js';
import {
  DISPATCH_COMMAND_TYP,
  type DispatchCommand,
  formatIssues,
  parseDispatchCommand,
} from '../../protocol/messages/index.js';
import type { HubKey } from '../contracts/market-match.js';
import type { Refusal, RefusalCode } from './refusals.js';

export type { HubKey } from '../contracts/market-match.js';

export type ReceivedCommand =
  | { kind: 'ok'; hash: string; command: DispatchCommand }
  | { kind: 'refuse'; hash: string; contract: string; gw: string; reason: Refusal }
  | { kind: 'unreadable'; detail: string };

const CONTRACT_ID = /^ct-[A-Za-z0-9_-]{43}$/;

/** Checks the text of a dispatch command against the hub's key (null: not enrolled, refuse all). */
export function receiveCommand(text: string, hub: HubKey | null): ReceivedCommand {
  const decoded = decodeJwsUnverified(text);
  if (decoded === undefined) return { kind: 'unreadable', detail: 'not a compact JWS' };
  const hash = messageHashB64(text);
  const p = decoded.payload as { contract?: unknown; gw?: unknown } | null;
  const contract = typeof p?.contract === 'string' && CONTRACT_ID.test(p.contract) ? p.contract : undefined;
  const gw = typeof p?.gw === 'string' ? p.gw : '';
  const refuse = (code: RefusalCode, message: string): ReceivedCommand =>
    contract === undefined
      ? { kind: 'unreadable', detail: `${code}: ${message}` }
      : { kind: 'refuse', hash, contract, gw, reason: { code, message } };
  if (hub === null)
    return refuse(
      'hub-key-unknown',
      'this gateway holds no hub key (enrol it again with `wattproof-agent enroll`)',
    );
  const v = verifyJws(text, {
    typ: DISPATCH_COMMAND_TYP,
    kid: hub.hubId,
    publicKeyFor: (kid) => (kid === hub.hubId ? hub.publicKey : undefined),
  });
  if (!v.ok) {
    const code = v.reason === 'kid-mismatch' || v.reason === 'kid-unknown' ? 'not-from-hub' : 'bad-signature';
    return refuse(code, v.detail);
  }
  const parsed = parseDispatchCommand(v.payload);
  if (!parsed.ok) return refuse('malformed', `not a valid dispatch command: ${formatIssues(parsed.issues)}`);
  return { kind: 'ok', hash, command: parsed.value };
}
