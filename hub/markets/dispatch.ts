// Dispatch commands the hub issues under a flexibility contract: what an operator (or the engine)
// asks for, checked against the contract as the ledger holds it, turned into the command payload
// the hub signs. Pure: the contract record, the request, the time and a nonce in; the command or a
// refusal with a code out. The same limits the fold and settlement apply (flexibility.ts) hold
// here, so the hub never signs a command that settlement would void. docs/markets.md, "Dispatch".
import {
  type DispatchCommand,
  type FlexibilityContract,
  formatIssues,
  parseDispatchCommand,
} from '../../protocol/messages/index.js';
import { voidReason } from './flexibility.js';

/** Contract statuses in which a flexibility contract may be dispatched (as the fold records). */
export const DISPATCHABLE_STATUSES: readonly string[] = ['active', 'delivering'];

/** How long a command stays valid for the gateway to apply when the request does not say, ms. */
export const DEFAULT_DISPATCH_EXPIRY_MS = 60_000;

export interface DispatchRequest {
  contract: string;
  /** The seller gateway to dispatch; default: the contract's first seller delivery point. */
  gw?: string;
  /** W: + discharge, − charge, 0 = hold. */
  setpointW: number;
  /** From when, UTC ms (default: now). */
  start?: number;
  /** Until when, UTC ms. */
  end: number;
  /** The gateway must apply it within this long, ms (default 60 s, never past `end`). */
  expiresInMs?: number;
}

export type DispatchPlan =
  | { ok: true; command: DispatchCommand }
  | { ok: false; status: 404 | 409 | 422; code: string; message: string };

const no = (status: 404 | 409 | 422, code: string, message: string): DispatchPlan => ({
  ok: false,
  status,
  code,
  message,
});

/** The command for a request, or why none can be issued. */
export function planDispatch(
  rec: { id: string; status: string; contract: { product: string } } | undefined,
  req: DispatchRequest,
  now: number,
  nonce: string,
): DispatchPlan {
  if (rec === undefined) return no(404, 'unknown-contract', `no contract ${req.contract} in the ledger`);
  if (rec.contract.product !== 'flexibility')
    return no(
      422,
      'not-flexibility',
      `${rec.id} is a ${rec.contract.product} contract; only flexibility is dispatched`,
    );
  if (!DISPATCHABLE_STATUSES.includes(rec.status))
    return no(409, 'not-active', `the contract is ${rec.status}; only an active one is dispatched`);
  const c = rec.contract as FlexibilityContract;
  const gw = req.gw ?? c.deliveryPoints.seller[0]?.gw;
  if (gw === undefined) return no(422, 'no-seller-gateway', 'the contract names no seller gateway');
  const start = req.start ?? now;
  if (req.end <= start) return no(422, 'bad-period', 'end must be after start');
  if (req.end <= now) return no(422, 'bad-period', 'the period has already ended');
  if (start < c.window.start || req.end > c.window.end)
    return no(
      422,
      'outside-window',
      `the period must lie inside the contract's window [${c.window.start}, ${c.window.end})`,
    );
  const expires = Math.min(req.end, now + (req.expiresInMs ?? DEFAULT_DISPATCH_EXPIRY_MS));
  const command: DispatchCommand = {
    contract: rec.id,
    gw,
    setpointW: req.setpointW,
    start,
    end: req.end,
    expires,
    nonce,
    issuedAt: now,
  };
  const why = voidReason(rec.id, c, command);
  if (why !== null)
    return no(
      422,
      why,
      why === 'above-max-power'
        ? `the contract allows up to ${c.maxDischargeW} W discharge and ${c.maxChargeW} W charge`
        : why === 'not-a-delivery-point'
          ? `${gw} is not a seller delivery point of the contract`
          : `the command would not count for the contract (${why})`,
    );
  const parsed = parseDispatchCommand(command);
  if (!parsed.ok) return no(422, 'schema', formatIssues(parsed.issues));
  return { ok: true, command: parsed.value };
}
