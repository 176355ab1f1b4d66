// deploy/mosquitto holds what an operator installs. The shipped ACL is exactly what the hub writes,
// and the shipped mosquitto.conf runs on a real Mosquitto (paths and ports moved into a temp dir):
// a gateway connects over TLS with a password the hub hashed, publishes under its own id, and the
// hub's loopback login receives it; publishing under another id is refused.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { mosquittoAclText } from '../hub/broker/acl.js';
import { MosquittoFiles } from '../hub/broker/mosquitto-files.js';
import { hashMqttPassword } from '../hub/broker/password-hash.js';
import { TestGateway, waitFor } from './support/hub-fixtures.js';
import { freePort, MOSQUITTO_BIN } from './support/mosquitto.js';

const deployDir = new URL('../deploy/mosquitto/', import.meta.url).pathname;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('deploy/mosquitto', () => {
  it('ships the ACL the hub writes', () => {
    expect(readFileSync(path.join(deployDir, 'acl'), 'utf8')).toBe(mosquittoAclText());
  });

  it('mosquitto.conf runs: TLS for gateways, loopback for the hub, the hub-written ACL enforced', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-deploy-mq-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        path.join(dir, 'hub.key'),
        '-out',
        path.join(dir, 'hub.crt'),
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '1',
      ],
      { stdio: 'pipe' },
    );
    const [tlsPort, localPort] = [await freePort(), await freePort()];
    const conf = readFileSync(path.join(deployDir, 'mosquitto.conf'), 'utf8')
      .replaceAll('/etc/mosquitto/wattproof/', `${dir}/`)
      .replaceAll('/etc/mosquitto/certs/', `${dir}/`)
      .replaceAll('/run/mosquitto/', `${dir}/`)
      .replaceAll('/var/lib/mosquitto/', `${dir}/`)
      .replace('listener 8883', `listener ${tlsPort} 127.0.0.1`)
      .replace('listener 1883 127.0.0.1', `listener ${localPort} 127.0.0.1`);
    const settings = conf.split('\n').filter((l) => !l.startsWith('#'));
    expect(settings.join('\n')).not.toMatch(/\/etc\/|\/run\/|\/var\//);
    writeFileSync(path.join(dir, 'mosquitto.conf'), `user root\n${conf}`);

    const a = new TestGateway();
    const b = new TestGateway();
    const files = new MosquittoFiles({
      passwordFile: path.join(dir, 'passwd'),
      aclFile: path.join(dir, 'acl'),
      hubUsername: 'hub',
      hubPassword: 'hub-password-0123456789',
    });
    files.write(`${a.id}:${hashMqttPassword('a-password')}\n${b.id}:${hashMqttPassword('b-password')}\n`);

    let log = '';
    const proc = spawn(MOSQUITTO_BIN, ['-c', path.join(dir, 'mosquitto.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stderr.on('data', (c: Buffer) => {
      log += c.toString();
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          proc.once('exit', () => resolve());
          proc.kill('SIGTERM');
        }),
    );
    const hubClient = await waitFor(`mosquitto to start\n${log}`, async () => {
      try {
        return await mqtt.connectAsync(`mqtt://127.0.0.1:${localPort}`, {
          username: 'hub',
          password: 'hub-password-0123456789',
          reconnectPeriod: 0,
        });
      } catch {
        return undefined;
      }
    });
    cleanups.push(() => hubClient.endAsync(true));
    const got: string[] = [];
    hubClient.on('message', (topic) => got.push(topic));
    await hubClient.subscribeAsync('wattproof/v1/gw/+/proof', { qos: 1 });

    const ca = readFileSync(path.join(dir, 'hub.crt'));
    const tls = (username: string, password: string) =>
      mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, {
        username,
        password,
        ca,
        reconnectPeriod: 0,
        protocolVersion: 5,
      });
    await expect(tls(a.id, 'wrong')).rejects.toThrow();
    // Plain MQTT on the TLS port is not spoken.
    await expect(
      mqtt.connectAsync(`mqtt://127.0.0.1:${tlsPort}`, {
        username: a.id,
        password: 'a-password',
        reconnectPeriod: 0,
        connectTimeout: 2_000,
      }),
    ).rejects.toThrow();
    const bClient = await tls(b.id, 'b-password');
    cleanups.push(() => bClient.endAsync(true));
    await expect(bClient.publishAsync(`wattproof/v1/gw/${a.id}/proof`, 'x', { qos: 1 })).rejects.toThrow(
      /135|authori/i,
    );
    await bClient.publishAsync(`wattproof/v1/gw/${b.id}/proof`, 'y', { qos: 1 });
    await waitFor("the hub to get B's own message", () => (got.length > 0 ? true : undefined));
    expect(got).toEqual([`wattproof/v1/gw/${b.id}/proof`]);
  });
});
