// The dashboard in a real browser (Debian's Chromium through playwright-core) against a real hub on
// a real Mosquitto with simulated gateways that speak MQTT like the agent: log in, watch a gateway
// come online (with the outbox backlog its agent reports) and go offline by its last will (no
// reload), open its proof chain, verify an inclusion proof in the page, approve registrations and
// a contract as the validator (signed in the page), and see the hub's engine activate and settle
// the contract. Screenshots go to test-artifacts/.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64url, generateSecretKey, participantIdOf, publicKeyOf } from '../protocol/index.js';
import {
  CONTRACT_TYP,
  type EnergyContract,
  type MessageTyp,
  OPERATOR_CREDIT_TYP,
  PARTICIPANT_APPLICATION_TYP,
  signMessage,
} from '../protocol/messages/index.js';
import {
  type DashboardHub,
  PASSWORDS,
  SIM_T0,
  SimGateway,
  startDashboardHub,
  tempArtifacts,
  waitFor,
} from './support/dashboard-hub.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const Q = 900_000;

let h: DashboardHub;
let browser: Browser;
const artifacts = tempArtifacts();

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, `dashboard-${name}.png`), fullPage: true });
}

async function login(page: Page, user: keyof typeof PASSWORDS): Promise<void> {
  await page.goto(`${h.url}/ui/`);
  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill(PASSWORDS[user]);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('whoami').waitFor();
}

describe.skipIf(!existsSync(CHROMIUM))('dashboard in Chromium', () => {
  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    // The contracts engine runs on the hub's ledger (activations, settlements) on a clock the test
    // sets; the validator's decisions come from the page.
    h = await startDashboardHub({
      alerts: { offlineAfterSeconds: 1 },
      engine: true,
      engineStartMs: SIM_T0 - 1_800_000,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it('shows a gateway online, then offline by its last will, live; its proof chain; an inclusion proof verified in the page', async () => {
    const gw = new SimGateway();
    await gw.enrol(h.hub.httpUrl, 'site-north');
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await login(page, 'olga');
    const row = page.getByTestId(`fleet-row-${gw.id}`);
    await row.waitFor();
    expect(await row.getAttribute('data-state')).toBe('unknown');

    await gw.connect(h.broker.url);
    await page
      .locator(`[data-testid="fleet-row-${gw.id}"][data-state="online"]`)
      .waitFor({ timeout: 10_000 });
    for (let i = 0; i < 5; i++) {
      await gw.telemetry([
        { device: 'grid-meter', point: 'W', value: 1200 + i * 50, t: Date.now() - (5 - i) * 1000 },
        { device: 'battery', point: 'SoC', value: 40 + i, t: Date.now() - (5 - i) * 1000 },
      ]);
    }
    await gw.proof(0, { importWh: 300 });
    await gw.proof(1, { importWh: 250 });
    await gw.proof(2, { importWh: 280, flags: ['device-error'] });
    await waitFor('three proofs in the ledger', () =>
      h.hub.ledger.gatewayHead(gw.id)?.seq === 2 ? true : undefined,
    );
    await expect.poll(async () => page.getByTestId('count-online').locator('b').textContent()).toBe('1');
    // The outbox depth the agent reports with its telemetry (device "agent", point "outbox") is the
    // backlog column, rather than an estimate from how far the last proof lags.
    await gw.telemetry([{ device: 'agent', point: 'outbox', value: 7 }]);
    await expect.poll(async () => row.locator('span').nth(5).textContent()).toBe('7');
    await shot(page, '1-fleet-online');

    // Kill the TCP connection: the broker publishes the signed last will; the page updates by SSE.
    gw.kill();
    await page
      .locator(`[data-testid="fleet-row-${gw.id}"][data-state="offline"]`)
      .waitFor({ timeout: 10_000 });
    await expect.poll(async () => page.getByTestId('count-offline').locator('b').textContent()).toBe('1');
    await shot(page, '2-fleet-offline');

    // Gateway detail: devices, telemetry charts, the proof chain with the flagged interval.
    await page.getByTestId(`fleet-row-${gw.id}`).click();
    await page.getByTestId('proof-chain').waitFor();
    expect(await page.getByTestId('gw-state').textContent()).toBe('offline');
    await page.getByTestId('chart-grid-meter-power').locator('canvas').waitFor();
    await page.getByTestId('chart-battery-soc').locator('canvas').waitFor();
    expect(await page.getByTestId('chain-entry-2').getAttribute('class')).toContain('flagged');
    expect(await page.getByTestId('chain-entry-1').getAttribute('class')).not.toContain('flagged');
    const entry = h.hub.ledger.gatewayHead(gw.id);
    if (!entry) throw new Error('no head');
    await waitFor('a checkpoint covering the proofs', () =>
      (h.hub.ledger.latestCheckpoint()?.size ?? 0) > entry.index ? true : undefined,
    );
    await page.getByTestId(`verify-${entry.index}`).click();
    await page.getByText('verified ✓').waitFor();
    await shot(page, '3-gateway-detail');

    // Ledger explorer: the same check with every step shown.
    await page.getByTestId('nav-ledger').click();
    await page.getByTestId('verify-index').fill(String(entry.index));
    await page.getByTestId('verify-run').click();
    const verdict = page.getByTestId('verify-verdict');
    await verdict.waitFor();
    expect(await verdict.textContent()).toContain(`VERIFIED: entry ${entry.index}`);
    // A key that is not the log's is refused by the same code.
    const other = 'wattproof/other+00000000+AQ' + 'A'.repeat(42) + '=';
    await page.getByTestId('vkey').fill(other);
    await page.getByTestId('verify-run').click();
    await expect.poll(async () => verdict.textContent()).toContain('NOT VERIFIED');
    await shot(page, '4-ledger-verify');

    // Alerts: offline longer than the threshold and the device error show in the page and the API.
    await page.getByTestId('nav-alerts').click();
    const active = page.getByTestId('alerts-active');
    await active.getByTestId(`alert-offline:${gw.id}`).waitFor({ timeout: 10_000 });
    await active.getByTestId(`alert-device-error:${gw.id}`).waitFor();
    const api = (await (await page.request.get(`${h.url}/ui/api/alerts`)).json()) as {
      active: { id: string }[];
    };
    expect(api.active.map((a) => a.id)).toEqual(
      expect.arrayContaining([`offline:${gw.id}`, `device-error:${gw.id}`]),
    );
    await shot(page, '5-alerts');
    await page.close();
  });

  it('validator approves registrations and a contract in the page; the hub’s engine activates and settles it', async () => {
    const seller = { secret: generateSecretKey() } as { secret: Uint8Array; id: string; pub: Uint8Array };
    const buyer = { secret: generateSecretKey() } as typeof seller;
    for (const p of [seller, buyer]) {
      p.pub = publicKeyOf(p.secret);
      p.id = participantIdOf(p.pub);
    }
    const gwA = new SimGateway();
    const gwB = new SimGateway();
    await gwA.enrol(h.hub.httpUrl, 'site-a');
    await gwB.enrol(h.hub.httpUrl, 'site-b');
    const hubKey = h.hub.key;
    // Signed through signMessage, so every entry passes its schema before it is signed.
    const append = (typ: MessageTyp, kid: string, payload: unknown, secret: Uint8Array) => {
      const jws = signMessage(typ, kid, payload as never, secret);
      h.hub.ledger.append([{ jws, typ, kid, gw: null, seq: null, receivedMs: Date.now() }]);
      h.hub.checkpointer.afterCommit();
    };
    // Participant applications arrive as signed entries (the intake endpoint is not in the hub yet,
    // so the test appends what a participant signed, as ingest would).
    const t = SIM_T0 - 10 * 86_400_000;
    for (const [p, g, role] of [
      [seller, gwA, 'producer'],
      [buyer, gwB, 'household'],
    ] as const) {
      append(
        PARTICIPANT_APPLICATION_TYP,
        p.id,
        {
          participant: p.id,
          publicKey: b64url.encode(p.pub),
          role,
          energies: ['electricity'],
          region: 'north',
          gridNode: 'bus-3',
          gateways: [g.id],
          capacityW: 10_000,
          at: t,
        },
        p.secret,
      );
    }

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await login(page, 'vera');
    await page.getByTestId('nav-validator').click();
    await page.getByTestId(`pending-${seller.id}`).waitFor();
    await page.getByTestId('validator-key-file').setInputFiles(h.validator.keyFile);
    await expect
      .poll(async () => page.getByTestId('validator-key-state').textContent())
      .toContain('key loaded');
    await shot(page, '6-validator-queue');
    await page.getByTestId(`approve-${seller.id}`).click();
    await page.getByTestId(`pending-${seller.id}`).waitFor({ state: 'detached' });
    await page.getByTestId(`approve-${buyer.id}`).click();
    await page.getByTestId(`pending-${buyer.id}`).waitFor({ state: 'detached' });
    const reg = h.dashboard.follower.state.registry.participants;
    expect(reg[seller.id]?.status).toBe('approved');
    expect(reg[buyer.id]?.status).toBe('approved');

    // Money in and a contract signed by both parties.
    for (const [p, amount] of [
      [seller, 500],
      [buyer, 1000],
    ] as const)
      append(
        OPERATOR_CREDIT_TYP,
        hubKey.hubId,
        { account: p.id, amountMinor: amount, currency: 'EUR', reference: `transfer-${p.id}`, at: t + 3 },
        hubKey.secretKey,
      );
    const contract: EnergyContract = {
      product: 'energy',
      seller: seller.id,
      buyer: buyer.id,
      energy: 'electricity',
      settlementPeriodMs: Q,
      window: { start: SIM_T0, end: SIM_T0 + 2 * Q },
      currency: 'EUR',
      deliveryPoints: {
        seller: [{ gw: gwA.id, meter: 'grid-meter' }],
        buyer: [{ gw: gwB.id, meter: 'grid-meter' }],
      },
      deposits: { seller: 60, buyer: 120 },
      disputeWindowMs: 86_400_000,
      nonce: 'ZGFzaGJvYXJkLWNvbnRyYWN0LTE',
      createdAt: SIM_T0 - 86_400_000,
      quantity: { wh: 1000, per: 'interval' },
      priceMinorPerKWh: 29,
      penaltyMinorPerKWh: 20,
    };
    append(CONTRACT_TYP, seller.id, contract, seller.secret);
    append(CONTRACT_TYP, buyer.id, contract, buyer.secret);
    const approve = page.locator('[data-testid^="approve-ct-"]');
    await approve.waitFor({ timeout: 10_000 });
    const contractId = ((await approve.getAttribute('data-testid')) as string).slice('approve-'.length);
    await approve.click();
    await approve.waitFor({ state: 'detached' });
    // Approved and funded: the engine activates it.
    await waitFor('the engine to activate the contract', () => {
      h.dashboard.follow();
      return h.dashboard.follower.state.contracts[contractId]?.status === 'active' ? true : undefined;
    });

    // Delivery: both gateways publish their proofs over MQTT; ingest verifies and appends them.
    await gwA.connect(h.broker.url);
    await gwB.connect(h.broker.url);
    for (let i = 0; i < 2; i++) {
      await gwA.proof(i, { exportWh: 1000 });
      await gwB.proof(i, { importWh: 1000 });
    }
    await waitFor('the delivery proofs folded', () => {
      h.dashboard.follow();
      return h.dashboard.follower.state.contracts[contractId]?.proofs.length === 4 ? true : undefined;
    });

    await page.getByTestId('nav-contracts').click();
    const status = page.getByTestId(`contract-${contractId}`);
    await status.waitFor();
    expect(await status.getAttribute('data-status')).toBe('delivering');
    // The window closes on the engine's clock: it settles the contract, and the page shows it.
    h.engineClock.now = SIM_T0 + 2 * Q + 60_000;
    await page
      .locator(`[data-testid="contract-${contractId}"][data-status="settled"]`)
      .waitFor({ timeout: 10_000 });
    const settled = h.dashboard.follower.state.contracts[contractId]?.settlement?.payload;
    expect(settled?.deliveredWh).toBe(2000);
    expect(h.engine?.counters.settlements).toBe(1);
    await shot(page, '7-contract-settled');
    await gwA.close();
    await gwB.close();
    await page.close();
  });

  it('keeps passwords, session ids and CSRF tokens out of the log', () => {
    const log = readFileSync(h.logFile, 'utf8');
    for (const secret of Object.values(PASSWORDS)) expect(log).not.toContain(secret);
    expect(log).not.toMatch(/wp_session=/);
    expect(log).toContain('"event":"login"');
  });
});
