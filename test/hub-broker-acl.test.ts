// A gateway may publish only under its own id: the broker refuses anything else, with a real
// Mosquitto (password and pattern ACL files written by the hub, reloaded by SIGHUP) and with the
// embedded broker. And on an open broker, where anyone can publish anywhere, the hub's own
// verification rejects a forged message injected with mosquitto_pub.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { MosquittoFiles } from '../hub/broker/mosquitto-files.js';
import type { Hub } from '../hub/hub.js';
import { startTestHub, subscribeCode, TestGateway, waitFor } from './support/hub-fixtures.js';
import { type RunningMosquitto, startMosquitto } from './support/mosquitto.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const HUB_PASSWORD = 'hub-password-for-tests-0123456789';

async function hubOnMosquitto(open: boolean): Promise<{ hub: Hub; broker: RunningMosquitto }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-hub-mq-'));
  const passwordFile = path.join(dir, 'passwd');
  const aclFile = path.join(dir, 'acl');
  const pidFile = path.join(dir, 'mosquitto.pid');
  const files = { passwordFile, aclFile, pidFile };
  if (!open) new MosquittoFiles({ ...files, hubUsername: 'hub', hubPassword: HUB_PASSWORD }).write('');
  const broker = await startMosquitto(open ? { dir } : { dir, passwordFile, aclFile });
  cleanups.push(() => broker.stop());
  writeFileSync(pidFile, `${broker.pid()}\n`);
  const { hub } = await startTestHub({
    dataDir: path.join(dir, 'hub'),
    broker: {
      kind: 'external',
      url: broker.url,
      username: 'hub',
      password: HUB_PASSWORD,
      ...(open ? {} : { mosquitto: files }),
    },
  });
  cleanups.push(() => hub.stop());
  return { hub, broker };
}

async function enrolled(hub: Hub, protocolVersion: 4 | 5 = 4): Promise<TestGateway> {
  const g = new TestGateway();
  await g.enrol(hub.httpUrl);
  // The hub rewrote the password file and sent SIGHUP; Mosquitto reloads asynchronously.
  await waitFor('the broker to accept the new credentials', async () => {
    try {
      const c = await mqtt.connectAsync(g.credentials!.mqtt.url, {
        username: g.id,
        password: g.credentials!.mqtt.password,
        reconnectPeriod: 0,
        protocolVersion,
      });
      await c.endAsync();
      return true;
    } catch {
      return undefined;
    }
  });
  await g.connect();
  cleanups.push(() => g.close());
  return g;
}

describe('broker ACLs', () => {
  it('Mosquitto: refuses a gateway publishing or subscribing under another gateway id', async () => {
    const { hub } = await hubOnMosquitto(false);
    const a = await enrolled(hub);
    const b = await enrolled(hub);

    // MQTT 5: the refusal is explicit (PUBACK reason 135, not authorized).
    const b5 = await mqtt.connectAsync(b.credentials!.mqtt.url, {
      username: b.id,
      password: b.credentials!.mqtt.password,
      reconnectPeriod: 0,
      protocolVersion: 5,
    });
    cleanups.push(() => b5.endAsync(true));
    const stolen = b.sign({ ...b.proofPayload(0), gw: b.id });
    await expect(b5.publishAsync(`wattproof/v1/gw/${a.id}/proof`, stolen, { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed|135/i,
    );
    // Mosquitto 2.0 grants the subscription but never delivers what the ACL does not let B read.
    const seenByB5: string[] = [];
    b5.on('message', (topic) => seenByB5.push(topic));
    await subscribeCode(b5, `wattproof/v1/gw/${a.id}/receipt`);
    await b5.subscribeAsync(`wattproof/v1/gw/${b.id}/receipt`, { qos: 1 });
    // MQTT 3.1.1 has no refusal code: Mosquitto drops it. The next message B sends on its own
    // topic is delivered after it would have been; once its receipt is back, nothing else came.
    await b.publishProof(stolen, a.id);
    const own = b.nextProof();
    await b.publishProof(own);
    await b.receiptFor(own, 'accepted');
    expect(hub.ledger.gatewayHead(a.id)).toBeUndefined();
    expect(hub.stats.rejectedTotal()).toBe(0);

    // A itself is served as usual; its receipt never reaches B, which gets its own right after.
    const mine = a.nextProof();
    await a.publishProof(mine);
    await a.receiptFor(mine, 'accepted');
    const own2 = b.nextProof();
    await b.publishProof(own2);
    await b.receiptFor(own2, 'accepted');
    await waitFor('B to get its own receipts', () => (seenByB5.length >= 2 ? true : undefined));
    expect(seenByB5.every((t) => t === `wattproof/v1/gw/${b.id}/receipt`)).toBe(true);
  });

  it('embedded broker: refuses a gateway publishing or subscribing under another gateway id', async () => {
    const { hub } = await startTestHub();
    cleanups.push(() => hub.stop());
    const a = await enrolled(hub);
    const b = await enrolled(hub);
    expect(await subscribeCode(b.client!, `wattproof/v1/gw/${a.id}/receipt`)).toBe(128);
    const closed = new Promise<void>((resolve) => b.client!.once('close', () => resolve()));
    // Aedes (MQTT 3.1.1) answers a refused publish by closing the connection.
    b.client!.publish(`wattproof/v1/gw/${a.id}/proof`, b.nextProof(), { qos: 1 });
    await closed;
    expect(hub.embedded?.refused.publish).toBe(1);
    expect(hub.embedded?.refused.subscribe).toBe(1);
    await expect(
      mqtt.connectAsync(hub.brokerUrl, { username: a.id, password: 'wrong', reconnectPeriod: 0 }),
    ).rejects.toThrow();
    const mine = a.nextProof();
    await a.publishProof(mine);
    await a.receiptFor(mine, 'accepted');
    expect(hub.ledger.gatewayHead(b.id)).toBeUndefined();
  });

  it('open Mosquitto: a forged message injected with mosquitto_pub is rejected by the hub and counted', async () => {
    const { hub, broker } = await hubOnMosquitto(true);
    const a = await enrolled(hub);
    const attacker = new TestGateway();
    // Signed by the attacker's key but claiming to be A (kid = A): the signature cannot verify.
    const forged = attacker.sign({ ...attacker.proofPayload(0), gw: attacker.id });
    const [h, p, s] = forged.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, string>;
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const asA = [
      Buffer.from(JSON.stringify({ ...header, kid: a.id })).toString('base64url'),
      Buffer.from(JSON.stringify({ ...payload, gw: a.id })).toString('base64url'),
      s,
    ].join('.');
    const before = hub.stats.rejected.get('bad-signature') ?? 0;
    execFileSync('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(broker.port),
      '-q',
      '1',
      '-t',
      `wattproof/v1/gw/${a.id}/proof`,
      '-m',
      asA,
    ]);
    const r = await a.receiptFor(asA, 'rejected');
    expect(r.status === 'rejected' && r.reason).toBe('bad-signature');
    expect(hub.stats.rejected.get('bad-signature')).toBe(before + 1);
    // The attacker's own valid signature on A's topic: kid-mismatch.
    execFileSync('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(broker.port),
      '-q',
      '1',
      '-t',
      `wattproof/v1/gw/${a.id}/proof`,
      '-m',
      forged,
    ]);
    await waitFor('kid-mismatch counted', () =>
      hub.stats.rejected.get('kid-mismatch') === 1 ? true : undefined,
    );
    expect(hub.ledger.gatewayHead(a.id)).toBeUndefined();
    const mine = a.nextProof();
    await a.publishProof(mine);
    await a.receiptFor(mine, 'accepted');
  });
});
