// The dashboard's live stream under a mass event: a thousand gateways lose their connection at once
// (signed last wills through the observer) and their offline alerts are raised together. The page
// must get one coalesced `fleet` message with every changed row and one `alerts` message with
// every alert change, not a message per gateway or per alert. Real parts: the observer with real
// signatures, the ledger on SQLite in a temp dir, the stream over a real HTTP connection.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BenchKey, fastSignJws, newKey } from '../bench/lib/fleet.js';
import { Ed25519Verifier } from '../hub/crypto/fast-verify.js';
import { Ledger } from '../hub/ledger/ledger.js';
import { dashboardConfigSchema } from '../hub/web/config.js';
import { createDashboard, type Dashboard } from '../hub/web/dashboard.js';
import { EventStreams } from '../hub/web/events.js';
import type { FleetRow } from '../hub/web/fleet.js';
import { hashToken, newToken } from '../hub/web/users.js';
import { b64url, deriveId, gatewayIdOf, generateSecretKey, publicKeyOf, sha256 } from '../protocol/index.js';
import { GATEWAY_STATUS_TYP } from '../protocol/messages/index.js';

const N = 1000;
let now = 1_800_000_000_000;
let db: Database.Database;
let dashboard: Dashboard;
let streams: EventStreams;
let server: Server;
const keys: BenchKey[] = Array.from({ length: N }, () => newKey(gatewayIdOf));

const status = (k: BenchKey, state: 'online' | 'offline', at: number) =>
  Buffer.from(
    fastSignJws(
      GATEWAY_STATUS_TYP,
      k.id,
      {
        gw: k.id,
        state,
        version: '1.0.0',
        configHash: b64url.encode(sha256('c')),
        clockSynchronised: true,
        at,
      },
      k.privateKey,
    ),
  );

/** Reads server-sent events from a real connection as they come. */
async function openStream(
  url: string,
): Promise<{ events: { event: string; data: unknown }[]; close(): void }> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  const events: { event: string; data: unknown }[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buf = '';
  void (async () => {
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (r.done) return;
      buf += decoder.decode(r.value, { stream: true });
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
    }
  })();
  return { events, close: () => ac.abort() };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('dashboard live stream under a mass offline event', () => {
  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-dash-live-'));
    db = new Database(path.join(dir, 'ledger.db'));
    const hubSecret = generateSecretKey();
    const hubPub = publicKeyOf(hubSecret);
    const ledger = new Ledger(db, {
      signer: { origin: 'live-test', secretKey: hubSecret, publicKey: hubPub },
    });
    const bindings = keys.map((k, i) => ({
      gw: k.id,
      publicKey: k.publicKey,
      index: i,
      site: `site-${i}`,
      participant: null,
    }));
    const byId = new Map(bindings.map((b) => [b.gw, b]));
    dashboard = createDashboard({
      config: dashboardConfigSchema.parse({
        users: [{ name: 'olga', role: 'operator', tokenHash: hashToken(newToken()) }],
        alerts: { offlineAfterSeconds: 60 },
      }),
      hub: { id: deriveId('hub', hubPub), publicKey: hubPub, logOrigin: 'live-test', logVerifierKey: '' },
      ledger,
      bindings: { get: (gw) => byId.get(gw), all: () => bindings },
      equivocations: { after: () => [] },
      stats: () => ({}),
      verifySignature: new Ed25519Verifier().verifyBytes,
      log: pino({ level: 'silent' }),
      now: () => now,
    });
    for (const k of keys)
      dashboard.observer.observe(`wattproof/v1/gw/${k.id}/status`, status(k, 'online', now));
    // A long coalescing period: this test flushes by hand, so it sees exactly what one flush sends.
    streams = new EventStreams(dashboard, 3_600_000);
    streams.start();
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      streams.add(res, undefined, undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });

  afterAll(async () => {
    streams?.stop();
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    db?.close();
  });

  it('sends one fleet message for a thousand last wills and one alerts message for their alerts', async () => {
    const s = await openStream(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    try {
      await until('the stream to open', () => streams.size === 1);
      const wills = keys.map((k) => ({
        topic: `wattproof/v1/gw/${k.id}/status`,
        payload: status(k, 'offline', now),
      }));
      now += 1000;
      for (const w of wills) dashboard.observer.observe(w.topic, w.payload);
      streams.flush();
      await until('the fleet message', () => s.events.some((e) => e.event === 'fleet'));
      const fleet = s.events.filter((e) => e.event === 'fleet');
      expect(fleet).toHaveLength(1);
      const msg = fleet[0]?.data as { rows: FleetRow[]; counts: { offline: number; online: number } };
      expect(msg.rows).toHaveLength(N);
      expect(msg.rows.every((r) => r[1] === 'offline')).toBe(true);
      expect(msg.counts).toMatchObject({ offline: N, online: 0 });

      // A minute later every one of them is an offline alert: one message, with the active count.
      now += 61_000;
      const raised = dashboard.alerts.evaluate().filter((c) => c.kind === 'raised');
      expect(raised).toHaveLength(N);
      streams.flush();
      await until('the alerts message', () => s.events.some((e) => e.event === 'alerts'));
      const alerts = s.events.filter((e) => e.event === 'alerts');
      expect(alerts).toHaveLength(1);
      const a = alerts[0]?.data as { changes: { kind: string; alert: { kind: string } }[]; active: number };
      expect(a.changes).toHaveLength(N);
      expect(a.changes.every((c) => c.kind === 'raised' && c.alert.kind === 'offline')).toBe(true);
      expect(a.active).toBe(N);
      // The rows came again with their alert counts, still as one message.
      await until('the second fleet message', () => s.events.filter((e) => e.event === 'fleet').length === 2);
      const second = s.events.filter((e) => e.event === 'fleet')[1]?.data as { rows: FleetRow[] };
      expect(second.rows).toHaveLength(N);
      expect(second.rows.every((r) => r[11] === 1)).toBe(true);
      expect(streams.stats.lastFlush.rows).toBe(N);
    } finally {
      s.close();
    }
  });
});
