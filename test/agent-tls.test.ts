// TLS to the broker with a client certificate: a real Mosquitto TLS listener that requires a
// certificate signed by a test CA (made here with the openssl command), the agent configured with
// hub.ca, hub.clientCert and hub.clientKey. Proofs go through; a self-signed certificate does not.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../agent/identity.js';
import { runAgentCli, startAgentCli, waitFor } from './support/agent-cli.js';
import { type SimHome, startSimHome } from './support/agent-sim-home.js';
import { type RunningMosquitto, startMosquitto } from './support/mosquitto.js';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all in `dir`. */
function makePki(dir: string, clientName: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  ]);
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, cn] of [
    ['server', '127.0.0.1'],
    ['client', clientName],
    ['other', 'stranger'],
  ] as const) {
    openssl(dir, [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ]);
    const signer =
      name === 'other'
        ? ['-signkey', `${name}.key`]
        : ['-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'];
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      ...signer,
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      ...(name === 'server' ? ['-extfile', 'server.ext'] : []),
    ]);
  }
}

describe('agent over TLS with a client certificate', () => {
  let broker: RunningMosquitto;
  let sim: SimHome;
  let pki: string;
  const gwDir = mkdtempSync(path.join(tmpdir(), 'wattproof-agent-tls-'));
  const stateDir = path.join(gwDir, 'state');
  const identity = createIdentity(stateDir);

  beforeAll(async () => {
    pki = mkdtempSync(path.join(tmpdir(), 'wattproof-pki-'));
    makePki(pki, identity.gatewayId);
    broker = await startMosquitto({
      extraConfig: [
        `cafile ${path.join(pki, 'ca.crt')}`,
        `certfile ${path.join(pki, 'server.crt')}`,
        `keyfile ${path.join(pki, 'server.key')}`,
        'require_certificate true',
        'use_identity_as_username true',
      ],
    });
    sim = await startSimHome({ scale: 30, origin: Date.now() });
  });
  afterAll(async () => {
    await sim?.close();
    await broker?.stop();
  });

  function config(clientCert: string, clientKey: string): string {
    const file = path.join(gwDir, `agent-${path.basename(clientCert, '.crt')}.yaml`);
    writeFileSync(
      file,
      [
        `gateway: {stateDir: ${stateDir}, settlementMinutes: 1}`,
        `hub: {url: 'mqtts://127.0.0.1:${broker.port}', ca: ${path.join(pki, 'ca.crt')}, clientCert: ${path.join(pki, clientCert)}, clientKey: ${path.join(pki, clientKey)}, receiptTimeoutSeconds: 5}`,
        'devices:',
        `  - {name: grid, transport: {type: tcp, host: 127.0.0.1, port: ${sim.port}}, unit: 1, kind: sunspec, role: grid}`,
        'clock: {syncCheck: assume-synchronised}',
        '',
      ].join('\n'),
    );
    return file;
  }

  it('doctor accepts the CA-signed client certificate and refuses a self-signed one', async () => {
    const good = await runAgentCli([
      'doctor',
      '--config',
      config('client.crt', 'client.key'),
      '--json',
      '--skip-devices',
    ]);
    const goodOut = JSON.parse(good.stdout) as {
      checks: Array<{ name: string; verdict: string; detail: string }>;
    };
    expect(goodOut.checks.find((c) => c.name === 'broker')).toMatchObject({ verdict: 'ok' });
    const bad = await runAgentCli([
      'doctor',
      '--config',
      config('other.crt', 'other.key'),
      '--json',
      '--skip-devices',
    ]);
    const badOut = JSON.parse(bad.stdout) as { checks: Array<{ name: string; verdict: string }> };
    expect(badOut.checks.find((c) => c.name === 'broker')).toMatchObject({ verdict: 'fail' });
    expect(bad.code).toBe(1);
  });

  it('run connects with its client certificate and delivers proofs over TLS', async () => {
    // The hub's side, on the same TLS listener with its own certificate.
    const hub = await mqtt.connectAsync(`mqtts://127.0.0.1:${broker.port}`, {
      ca: readFileSync(path.join(pki, 'ca.crt')),
      cert: readFileSync(path.join(pki, 'server.crt')),
      key: readFileSync(path.join(pki, 'server.key')),
      rejectUnauthorized: true,
    });
    const proofs: string[] = [];
    hub.on('message', (_t, p) => proofs.push(p.toString()));
    await hub.subscribeAsync(`wattproof/v1/gw/${identity.gatewayId}/proof`, { qos: 1 });
    const agent = startAgentCli([
      'run',
      '--config',
      config('client.crt', 'client.key'),
      '--time-scale',
      '30',
    ]);
    try {
      await waitFor(() => proofs.length > 0, 'a proof over TLS', 30_000);
      expect(agent.output()).toContain('connected to the broker');
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exited;
      await hub.endAsync();
    }
  }, 60_000);
});
