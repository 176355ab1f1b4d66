// The homes as market participants, over the hub's HTTP API exactly as outside participants would
// use it: each household has its own participant key (in the home's state folder, 0600) and
// applies with a self-signed application naming its gateway, region and grid bus; the operator
// credits its account with the operator token; each planned bilateral contract is signed by both
// parties and posted; each planned auction order is signed by its participant and posted. The
// validator reviews, the engine activates, sends contracts to the gateways, clears auctions at
// gate closure and settles each contract from the meters' proofs once its window has closed.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { b64url, generateSecretKey, participantIdOf, publicKeyOf } from '../protocol/index.js';
import {
  type EnergyContract,
  type EnergyOrder,
  ORDER_TYP,
  PARTICIPANT_APPLICATION_TYP,
  signContract,
  signMessage,
} from '../protocol/messages/index.js';
import { CURRENCY, type DemoTerms } from './market-setup.js';
import type { PlannedContract, PlannedOrder, TradePlan } from './trades.js';

export const PARTICIPANT_KEY_FILE = 'participant.key';
const KEY_FORMAT = 'wattproof-demo-participant-key/1';
/** The grid meter: the delivery point of every home's trades (the agent's device name). */
export const DELIVERY_METER = 'grid';
/** A new account gets this much, and is topped up to it when it runs low (minor units). */
const FUNDING_MINOR = 10_000;
const TOP_UP_BELOW_MINOR = 2_000;

export interface Household {
  site: string;
  gw: string;
  bus: string;
  capacityW: number;
  stateDir: string;
}

interface Participant extends Household {
  id: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export interface TradeCounts {
  contractsSubmitted: number;
  contractsRefused: number;
  ordersSubmitted: number;
  ordersRefused: number;
}

/** Loads the household's participant key, or creates it (exclusive create, mode 0600). */
export function participantKey(stateDir: string): {
  id: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
} {
  const file = path.join(stateDir, PARTICIPANT_KEY_FILE);
  let secretKey: Uint8Array;
  if (existsSync(file)) {
    const body = JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown; secretKey?: unknown };
    if (body.format !== KEY_FORMAT || typeof body.secretKey !== 'string')
      throw new Error(`${file} is not a demo participant key (${KEY_FORMAT}); start over with --fresh`);
    secretKey = b64url.decode(body.secretKey);
  } else {
    secretKey = generateSecretKey();
    const publicKey = publicKeyOf(secretKey);
    const body = {
      format: KEY_FORMAT,
      participant: participantIdOf(publicKey),
      publicKey: b64url.encode(publicKey),
      secretKey: b64url.encode(secretKey),
    };
    writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  }
  const publicKey = publicKeyOf(secretKey);
  return { id: participantIdOf(publicKey), publicKey, secretKey };
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function nonce(): string {
  return randomBytes(16).toString('base64url');
}

/** ceil(wh × minorPerKWh / 1000): what the review rules ask a deposit to cover. */
function costMinor(wh: number, minorPerKWh: number): number {
  return Math.ceil((wh * minorPerKWh) / 1000);
}

export class Trading {
  readonly counts: TradeCounts = {
    contractsSubmitted: 0,
    contractsRefused: 0,
    ordersSubmitted: 0,
    ordersRefused: 0,
  };
  private readonly bySite = new Map<string, Participant>();

  constructor(
    private readonly o: {
      hubUrl: string;
      operatorToken: string;
      region: string;
      terms: DemoTerms;
      /** Whether the hub runs a market (orders are posted only then). */
      market: boolean;
      now: () => number;
      log: Logger;
    },
  ) {}

  get participants(): number {
    return this.bySite.size;
  }

  idOf(site: string): string | undefined {
    return this.bySite.get(site)?.id;
  }

  private async call(method: 'GET' | 'POST', url: string, body?: unknown, bearer?: string): Promise<Answer> {
    const res = await fetch(`${this.o.hubUrl}${url}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { text };
    }
    return { status: res.status, body: parsed };
  }

  /**
   * Each household applies (unless the log has its application already) and gets funded; resolves
   * when every application has the validator's decision.
   */
  async register(households: readonly Household[], deadlineMs = 20_000): Promise<void> {
    for (const h of households) {
      const key = participantKey(h.stateDir);
      const p: Participant = { ...h, ...key };
      this.bySite.set(h.site, p);
      const known = await this.call('GET', `/v1/participants/${p.id}`);
      if (known.status === 404) {
        const jws = signMessage(
          PARTICIPANT_APPLICATION_TYP,
          p.id,
          {
            participant: p.id,
            publicKey: b64url.encode(p.publicKey),
            role: 'household',
            energies: ['electricity'],
            region: this.o.region,
            gridNode: h.bus,
            gateways: [h.gw],
            capacityW: h.capacityW,
            at: this.o.now(),
          },
          p.secretKey,
        );
        const r = await this.call('POST', '/v1/participants', { jws });
        if (r.status !== 201 && r.status !== 200)
          throw new Error(`the hub refused ${h.site}'s application: ${r.status} ${JSON.stringify(r.body)}`);
        this.o.log.info({ event: 'participant-applied', site: h.site, participant: p.id });
      }
    }
    await this.fund();
    const deadline = Date.now() + deadlineMs;
    for (const p of this.bySite.values()) {
      for (;;) {
        const r = await this.call('GET', `/v1/participants/${p.id}`);
        const status = (r.body.participant as { status?: string } | undefined)?.status;
        if (status === 'approved') break;
        if (status === 'refused')
          throw new Error(
            `the validator refused ${p.site}'s application: ${JSON.stringify(r.body.participant)}`,
          );
        if (Date.now() > deadline)
          throw new Error(
            `no validator decision on ${p.site}'s application within ${deadlineMs} ms (${status})`,
          );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** The operator credits every account that runs low (a bank transfer in real life). */
  async fund(): Promise<void> {
    for (const p of this.bySite.values()) {
      const a = await this.call('GET', `/v1/accounts/${p.id}`);
      const available = typeof a.body.available === 'number' ? a.body.available : 0;
      if (a.status === 200 && available >= TOP_UP_BELOW_MINOR) continue;
      const r = await this.call(
        'POST',
        '/v1/credits',
        {
          account: p.id,
          amountMinor: FUNDING_MINOR - Math.max(0, available),
          reference: `demo-funding-${p.site}-${this.o.now()}`,
        },
        this.o.operatorToken,
      );
      if (r.status !== 201)
        this.o.log.warn({ event: 'credit-refused', site: p.site, status: r.status, body: r.body });
    }
  }

  /** Signs and posts the plan's contracts (both parties sign) and orders (when a market runs). */
  async submit(plan: TradePlan): Promise<void> {
    await this.fund();
    for (const c of plan.contracts) await this.submitContract(c);
    if (this.o.market) for (const o of plan.orders) await this.submitOrder(o);
  }

  private async submitContract(c: PlannedContract): Promise<void> {
    const seller = this.bySite.get(c.seller);
    const buyer = this.bySite.get(c.buyer);
    if (!seller || !buyer) return;
    const intervals = Math.round((c.window.end - c.window.start) / this.o.terms.periodMs);
    const totalWh = c.whPerInterval * intervals;
    const penalty = c.priceMinorPerKWh;
    const contract: EnergyContract = {
      product: 'energy',
      seller: seller.id,
      buyer: buyer.id,
      energy: 'electricity',
      settlementPeriodMs: this.o.terms.periodMs,
      window: c.window,
      currency: CURRENCY,
      deliveryPoints: {
        seller: [{ gw: seller.gw, meter: DELIVERY_METER }],
        buyer: [{ gw: buyer.gw, meter: DELIVERY_METER }],
      },
      // Exactly what the review rules ask: the seller's covers the penalty on the full quantity,
      // the buyer's the payment for it.
      deposits: { seller: costMinor(totalWh, penalty), buyer: costMinor(totalWh, c.priceMinorPerKWh) },
      disputeWindowMs: this.o.terms.disputeWindowMs,
      region: this.o.region,
      nonce: nonce(),
      createdAt: this.o.now(),
      quantity: { wh: c.whPerInterval, per: 'interval' },
      priceMinorPerKWh: c.priceMinorPerKWh,
      penaltyMinorPerKWh: penalty,
    };
    const signed = signContract(
      signContract(contract, seller.id, seller.secretKey),
      buyer.id,
      buyer.secretKey,
    );
    const r = await this.call('POST', '/v1/contracts', signed);
    if (r.status === 201 || r.status === 200) {
      this.counts.contractsSubmitted++;
      this.o.log.info({
        event: 'contract-submitted',
        contract: r.body.contract,
        seller: c.seller,
        buyer: c.buyer,
        whPerInterval: c.whPerInterval,
        window: c.window,
      });
    } else {
      this.counts.contractsRefused++;
      this.o.log.warn({
        event: 'contract-refused',
        status: r.status,
        body: r.body,
        seller: c.seller,
        buyer: c.buyer,
      });
    }
  }

  private async submitOrder(o: PlannedOrder): Promise<void> {
    const p = this.bySite.get(o.site);
    if (!p) return;
    const order: EnergyOrder = {
      product: 'energy',
      participant: p.id,
      side: o.side,
      region: this.o.region,
      currency: CURRENCY,
      settlementPeriodMs: this.o.terms.periodMs,
      window: o.interval,
      deliveryPoints: [{ gw: p.gw, meter: DELIVERY_METER }],
      expires: o.interval.end,
      nonce: nonce(),
      createdAt: this.o.now(),
      energy: 'electricity',
      quantityWh: o.wh,
      limitMinorPerKWh: o.limitMinorPerKWh,
    };
    const jws = signMessage(ORDER_TYP, p.id, order, p.secretKey);
    const r = await this.call('POST', '/v1/orders', { jws });
    if (r.status === 201 || r.status === 200) this.counts.ordersSubmitted++;
    else {
      this.counts.ordersRefused++;
      this.o.log.warn({ event: 'order-refused', status: r.status, body: r.body, site: o.site });
    }
  }
}
