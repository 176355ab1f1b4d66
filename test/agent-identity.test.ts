import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createIdentity, IdentityError, keyPath, loadIdentity } from '../agent/identity.js';
import { b64url, gatewayIdOf, publicKeyOf, signBytes, utf8, verifyBytes } from '../protocol/index.js';
import { runAgentCli } from './support/agent-cli.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'wattproof-agent-id-'));

describe('gateway identity', () => {
  it('creates a 0600 key atomically in a 0700 state dir and loads it back', () => {
    const dir = path.join(tmp(), 'state');
    const id = createIdentity(dir);
    expect(statSync(keyPath(dir)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual(['gateway.key']); // no temp file left behind
    const again = loadIdentity(dir);
    expect(again.gatewayId).toBe(id.gatewayId);
    expect(gatewayIdOf(again.publicKey)).toBe(id.gatewayId);
    expect(b64url.encode(publicKeyOf(again.secretKey))).toBe(b64url.encode(id.publicKey));
    const sig = signBytes(utf8('x'), again.secretKey);
    expect(verifyBytes(sig, utf8('x'), id.publicKey)).toBe(true);
  });

  it('refuses to overwrite without force, replaces with force', () => {
    const dir = tmp();
    const first = createIdentity(dir);
    expect(() => createIdentity(dir)).toThrow(IdentityError);
    expect(loadIdentity(dir).gatewayId).toBe(first.gatewayId);
    const second = createIdentity(dir, { force: true });
    expect(second.gatewayId).not.toBe(first.gatewayId);
    expect(loadIdentity(dir).gatewayId).toBe(second.gatewayId);
  });

  it('refuses a key file others can read, and an altered one', () => {
    const dir = tmp();
    createIdentity(dir);
    chmodSync(keyPath(dir), 0o644);
    expect(() => loadIdentity(dir)).toThrow(/chmod 600/);
    chmodSync(keyPath(dir), 0o600);
    const rec = JSON.parse(readFileSync(keyPath(dir), 'utf8')) as Record<string, string>;
    rec.gatewayId = 'gw-aaaaaaaaaaaaaaaa';
    writeFileSync(keyPath(dir), JSON.stringify(rec), { mode: 0o600 });
    expect(() => loadIdentity(dir)).toThrow(/altered/);
    expect(() => loadIdentity(tmp())).toThrow(/wattproof-agent init/);
  });
});

describe('wattproof-agent init and keys show', () => {
  it('init prints id, public key and a QR code but never the secret; keys show --json matches', async () => {
    const dir = path.join(tmp(), 'state');
    const init = await runAgentCli(['init', '--state-dir', dir]);
    expect(init.code).toBe(0);
    const secret = (JSON.parse(readFileSync(keyPath(dir), 'utf8')) as { secretKey: string }).secretKey;
    expect(init.stdout + init.stderr).not.toContain(secret);
    const shown = await runAgentCli(['keys', 'show', '--json', '--state-dir', dir]);
    expect(shown.code).toBe(0);
    const pub = JSON.parse(shown.stdout) as { gatewayId: string; publicKey: string };
    expect(Object.keys(pub).sort()).toEqual(['gatewayId', 'publicKey']);
    expect(b64url.decode(pub.publicKey)).toHaveLength(32);
    expect(gatewayIdOf(b64url.decode(pub.publicKey))).toBe(pub.gatewayId);
    expect(init.stdout).toContain(pub.gatewayId);
    expect(init.stdout).toContain(pub.publicKey);
    expect(init.stdout).toMatch(/[▀▄█]/); // the QR code, drawn with block characters
    expect(shown.stdout).not.toContain(secret);
  });

  it('init refuses to overwrite an existing key without --force (exit 4)', async () => {
    const dir = tmp();
    expect((await runAgentCli(['init', '--state-dir', dir, '--json'])).code).toBe(0);
    const before = readFileSync(keyPath(dir), 'utf8');
    const again = await runAgentCli(['init', '--state-dir', dir]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/already exists.*--force/);
    expect(readFileSync(keyPath(dir), 'utf8')).toBe(before);
    expect((await runAgentCli(['init', '--state-dir', dir, '--force', '--json'])).code).toBe(0);
    expect(readFileSync(keyPath(dir), 'utf8')).not.toBe(before);
  });

  it('a bad config exits 3 naming the key, and creates nothing', async () => {
    const dir = tmp();
    const state = path.join(dir, 'state');
    const cfg = path.join(dir, 'agent.yaml');
    writeFileSync(
      cfg,
      `gateway: {stateDir: ${state}}\nhub: {url: 'mqtt://127.0.0.1:1'}\ndevices:\n  - {name: m, transport: {type: tcp, host: h}, unit: 300, kind: sunspec, role: grid}\n`,
    );
    const r = await runAgentCli(['init', '--config', cfg]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('devices[0].unit: 300 is not allowed; a Modbus unit id is 1..247');
    expect(readdirSync(dir)).toEqual(['agent.yaml']);
  });

  it('keys show without a key exits 4 and says to run init', async () => {
    const r = await runAgentCli(['keys', 'show', '--state-dir', tmp()]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('wattproof-agent init');
  });
});
