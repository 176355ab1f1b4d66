// Pins the shared Mosquitto helper: a real broker on a free port, password and ACL files honoured,
// restart on the same port, and SIGHUP reload picking up a new user.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningMosquitto, startMosquitto, writeMosquittoPasswordFile } from './support/mosquitto.js';

const running: RunningMosquitto[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((b) => b.stop()));
});

function connect(url: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...opts });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

describe('test/support/mosquitto', () => {
  it('starts an open broker on a free loopback port that carries a message', async () => {
    const broker = await startMosquitto();
    running.push(broker);
    expect(broker.port).not.toBe(1883);
    const client = await connect(broker.url);
    await client.subscribeAsync('t/x', { qos: 1 });
    const got = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())));
    await client.publishAsync('t/x', 'hello', { qos: 1 });
    expect(await got).toBe('hello');
    await client.endAsync();
  });

  it('enforces a password file and an ACL, restarts on the same port, reloads on SIGHUP', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-mq-'));
    const passwordFile = path.join(dir, 'passwd');
    const aclFile = path.join(dir, 'acl');
    writeMosquittoPasswordFile(passwordFile, { alice: 'a-secret' });
    writeFileSync(aclFile, 'pattern write own/%u\n');
    const broker = await startMosquitto({ dir, passwordFile, aclFile });
    running.push(broker);

    await expect(connect(broker.url, { username: 'alice', password: 'wrong' })).rejects.toThrow(
      /Not authorized|Bad user/i,
    );
    const alice = await connect(broker.url, { username: 'alice', password: 'a-secret' });
    await alice.endAsync();

    const port = broker.port;
    await broker.restart();
    expect(broker.port).toBe(port);
    await (await connect(broker.url, { username: 'alice', password: 'a-secret' })).endAsync();

    await expect(connect(broker.url, { username: 'bob', password: 'b-secret' })).rejects.toThrow();
    writeMosquittoPasswordFile(passwordFile, { alice: 'a-secret', bob: 'b-secret' });
    await broker.reload();
    await (await connect(broker.url, { username: 'bob', password: 'b-secret' })).endAsync();
  });
});
