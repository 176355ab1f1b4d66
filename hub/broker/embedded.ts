// The embedded MQTT broker (Aedes 1.x, MQTT 3.1.1) for zero-setup runs. Its hooks enforce the
// same rules as the Mosquitto ACL (./acl.ts): authenticate against the hub's credential table (or
// the hub's own in-process password), then per-topic publish and subscribe checks.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { canPublish, canSubscribe, HUB_USERNAME } from './acl.js';

export interface EmbeddedBrokerOptions {
  host?: string;
  /** 0 picks a free port; read it back from `port`. */
  port?: number;
  /** The hub's own password (username `hub`), generated per process. */
  hubPassword: string;
  /** Checks a gateway's username and password (the credential table). */
  checkGateway(username: string, password: string): boolean;
  log?: Logger;
}

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  /** Counts of refusals, by kind. */
  readonly refused: { connect: number; publish: number; subscribe: number };
  close(): Promise<void>;
}

function equalSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function authError(message: string): AuthenticateError {
  // 4 = bad user name or password (MQTT 3.1.1 CONNACK return code).
  return Object.assign(new Error(message), { returnCode: 4 }) as AuthenticateError;
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const users = new WeakMap<Client, string>();
  const refused = { connect: 0, publish: 0, subscribe: 0 };
  const log = opts.log;
  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      const pass = password?.toString('utf8') ?? '';
      const ok =
        username !== undefined &&
        (username === HUB_USERNAME ? equalSecret(pass, opts.hubPassword) : opts.checkGateway(username, pass));
      if (!ok) {
        refused.connect++;
        log?.warn({ event: 'mqtt-auth-refused', clientId: client.id, username }, 'MQTT login refused');
        done(authError('bad user name or password'), false);
        return;
      }
      users.set(client, username);
      done(null, true);
    },
    authorizePublish(client, packet, callback) {
      // client is null for messages the broker publishes itself.
      if (client === null) return callback(null);
      const user = users.get(client);
      if (canPublish(user, packet.topic)) return callback(null);
      refused.publish++;
      log?.warn(
        { event: 'mqtt-publish-refused', username: user, topic: packet.topic },
        'publish refused by ACL',
      );
      callback(new Error(`${user ?? 'anonymous'} may not publish to ${packet.topic}`));
    },
    authorizeSubscribe(client, subscription, callback) {
      const user = users.get(client);
      if (canSubscribe(user, subscription.topic)) return callback(null, subscription);
      refused.subscribe++;
      log?.warn(
        { event: 'mqtt-subscribe-refused', username: user, topic: subscription.topic },
        'subscription refused by ACL',
      );
      // A null subscription makes Aedes answer SUBACK 128 (failure) for this filter.
      callback(null, null);
    },
  });
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const host = opts.host ?? '127.0.0.1';
  return {
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    refused,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
