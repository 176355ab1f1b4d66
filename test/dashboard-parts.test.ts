// The dashboard's pure parts: alert rules and the engine's raise/clear, users (scrypt, tokens),
// sessions (expiry, CSRF), the observer (signature check, last will of the current session) and
// the fleet filter the page runs over 10,000 rows.
import { describe, expect, it } from 'vitest';
import {
  AlertEngine,
  type GatewayFacts,
  gatewayAlerts,
  DEFAULT_THRESHOLDS as T,
} from '../hub/alerts/index.js';
import { filterRows } from '../hub/web/client/fleet.js';
import { type FleetRow, fleetRow } from '../hub/web/fleet.js';
import { GatewayObserver } from '../hub/web/observer.js';
import { csrfMatches, SessionStore } from '../hub/web/sessions.js';
import { hashPassword, hashToken, newToken, UserStore } from '../hub/web/users.js';
import { b64url, gatewayIdOf, generateSecretKey, publicKeyOf, sha256 } from '../protocol/index.js';
import { GATEWAY_STATUS_TYP, signMessage } from '../protocol/messages/index.js';

const facts = (f: Partial<GatewayFacts>): GatewayFacts => ({
  gw: 'gw-aaaaaaaaaaaaaaaa',
  lastSeenMs: 0,
  proofFlags: [],
  devices: [],
  backlogHistory: [],
  ...f,
});

describe('alert rules', () => {
  const now = 10_000_000;
  it('offline only after the threshold; silent online gateways too', () => {
    const kinds = (f: Partial<GatewayFacts>) => gatewayAlerts(facts(f), now, T).map((a) => a.kind);
    expect(kinds({ state: 'offline', stateSinceMs: now - T.offlineAfterMs + 1 })).toEqual([]);
    expect(kinds({ state: 'offline', stateSinceMs: now - T.offlineAfterMs })).toEqual(['offline']);
    expect(kinds({ state: 'online', lastSeenMs: now - T.offlineAfterMs - 1 })).toEqual(['offline']);
    expect(kinds({ state: 'online', lastSeenMs: now - 1000 })).toEqual([]);
  });

  it('clock, device error, stale device and a growing backlog', () => {
    const kinds = (f: Partial<GatewayFacts>) => gatewayAlerts(facts(f), now, T).map((a) => a.kind);
    expect(kinds({ state: 'online', lastSeenMs: now, clockSynchronised: false })).toEqual(['clock']);
    expect(kinds({ proofFlags: [{ meter: 'm', flags: ['clock-jump'] }] })).toEqual(['clock']);
    expect(kinds({ proofFlags: [{ meter: 'm', flags: ['device-error'] }] })).toEqual(['device-error']);
    expect(
      kinds({
        state: 'online',
        lastSeenMs: now,
        devices: [{ name: 'bat', lastSampleMs: now - T.deviceStaleMs }],
      }),
    ).toEqual(['device-error']);
    expect(kinds({ backlogHistory: [1, 3, 5, 9] })).toEqual(['backlog-growing']);
    expect(kinds({ backlogHistory: [1, 3, 3, 9] })).toEqual([]);
    expect(kinds({ backlogHistory: [0, 1, 2, 3] })).toEqual([]); // below backlogMin
  });

  it('the engine raises once, clears when the facts change, keeps acknowledgements', () => {
    let t = 1_000_000;
    let state: 'online' | 'offline' = 'offline';
    const engine = new AlertEngine(
      {
        gateways: () => [{ ...facts({ state, stateSinceMs: 0, lastSeenMs: t }), backlog: null }],
        evidence: () => ({ gapNotes: [{ gw: 'gw-b', from: 3, to: 4, index: 9, at: t }], equivocations: [] }),
      },
      {},
      () => t,
    );
    const first = engine.evaluate();
    expect(first.map((c) => `${c.kind}:${c.alert.id}`).sort()).toEqual([
      'raised:offline:gw-aaaaaaaaaaaaaaaa',
      'raised:proof-gap:gw-b:3',
    ]);
    expect(engine.evaluate()).toEqual([]);
    expect(engine.acknowledge('offline:gw-aaaaaaaaaaaaaaaa', 'olga')?.acknowledged?.by).toBe('olga');
    state = 'online';
    t += 1000;
    const second = engine.evaluate();
    expect(second.map((c) => `${c.kind}:${c.alert.id}`)).toEqual(['cleared:offline:gw-aaaaaaaaaaaaaaaa']);
    expect(engine.list().recent[0]?.clearedMs).toBe(t);
  });
});

describe('users and sessions', () => {
  it('checks scrypt passwords and tokens; unknown names and wrong passwords fail alike', async () => {
    const token = newToken();
    const users = new UserStore([
      { name: 'olga', role: 'operator', passwordHash: await hashPassword('correct horse battery', 2 ** 14) },
      { name: 'bot', role: 'read-only', tokenHash: hashToken(token) },
    ]);
    expect(await users.checkPassword('olga', 'correct horse battery')).toEqual({
      name: 'olga',
      role: 'operator',
    });
    expect(await users.checkPassword('olga', 'wrong horse battery')).toBeUndefined();
    expect(await users.checkPassword('nobody', 'correct horse battery')).toBeUndefined();
    expect(users.checkToken(token)).toEqual({ name: 'bot', role: 'read-only' });
    expect(users.checkToken(`${token}x`)).toBeUndefined();
    await expect(hashPassword('short')).rejects.toThrow(/12 characters/);
    expect(() => new UserStore([{ name: 'x', role: 'operator', passwordHash: 'plain' }])).toThrow(
      /dashboard.users\[0\].passwordHash/,
    );
    expect(
      () => new UserStore([{ name: 'x', role: 'boss' as 'operator', tokenHash: hashToken('t') }]),
    ).toThrow(/role/);
  });

  it('sessions expire and the CSRF token must match exactly', () => {
    let t = 0;
    const store = new SessionStore(1000, () => t);
    const { id, session } = store.create({ name: 'olga', role: 'operator' });
    expect(store.get(id)?.user).toBe('olga');
    expect(csrfMatches(session, session.csrf)).toBe(true);
    expect(csrfMatches(session, `${session.csrf.slice(0, -1)}x`)).toBe(false);
    expect(csrfMatches(session, undefined)).toBe(false);
    t = 999;
    expect(store.get(id)).toBeDefined();
    t = 1000;
    expect(store.get(id)).toBeUndefined();
    expect(store.get('made-up')).toBeUndefined();
  });
});

describe('observer', () => {
  const secret = generateSecretKey();
  const pub = publicKeyOf(secret);
  const gw = gatewayIdOf(pub);
  const status = (state: 'online' | 'offline', at: number, key = secret) =>
    Buffer.from(
      signMessage(
        GATEWAY_STATUS_TYP,
        gw,
        { gw, state, version: '1.0.0', configHash: b64url.encode(sha256('c')), clockSynchronised: true, at },
        key,
      ),
    );
  const topic = `wattproof/v1/gw/${gw}/status`;

  it('takes the last will of the current session, ignores stale statuses and forged ones', () => {
    const o = new GatewayObserver({ keyOf: (id) => (id === gw ? pub : undefined) });
    o.observe(topic, status('online', 1001));
    expect(o.gateways.get(gw)?.status?.state).toBe('online');
    o.observe(topic, status('offline', 1000)); // the will signed just before the birth
    expect(o.gateways.get(gw)?.status?.state).toBe('offline');
    o.observe(topic, status('online', 200_000));
    o.observe(topic, status('offline', 1000)); // an old will from a session long gone
    expect(o.gateways.get(gw)?.status?.state).toBe('online');
    o.observe(topic, status('offline', 300_000, generateSecretKey())); // forged
    expect(o.gateways.get(gw)?.status?.state).toBe('online');
    expect(o.counts.get('status\u0000refused')).toBe(1);
    o.observe(topic, Buffer.from('not a jws'));
    expect(o.counts.get('status\u0000refused')).toBe(2);
  });
});

describe('fleet filter', () => {
  it('filters 10,000 rows by state, health and text in one pass', () => {
    const rows: FleetRow[] = [];
    for (let i = 0; i < 10_000; i++) {
      const r = fleetRow({
        gw: `gw-${String(i).padStart(16, 'a')}`,
        site: `site-${i % 100}`,
        observation: undefined,
        head: undefined,
        checkpointSize: 0,
        alerts: i % 50 === 0 ? 1 : 0,
        now: 0,
        deviceStaleMs: 1,
        periodMs: 900_000,
      });
      r[1] = i % 3 === 0 ? 'offline' : 'online';
      rows.push(r);
    }
    const hay = rows.map((r) => `${r[0]} ${r[10]} ${r[3]}`.toLowerCase());
    const base = { text: '', state: '' as const, health: '' as const, clock: '' as const, alerting: false };
    expect(filterRows(rows, hay, base).length).toBe(10_000);
    expect(filterRows(rows, hay, { ...base, state: 'offline' }).length).toBe(3334);
    expect(filterRows(rows, hay, { ...base, text: 'SITE-42 ' }).length).toBe(100);
    expect(filterRows(rows, hay, { ...base, alerting: true }).length).toBe(200);
  });
});
