import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isId } from '../protocol/index.js';
import { loadOrCreateValidatorKey, loadValidatorKey } from './engine/validator-key.js';
import { HubKeyError, loadHubKey, loadOrCreateHubKey } from './keys.js';

const dir = () => mkdtempSync(path.join(tmpdir(), 'wattproof-key-file-'));

describe('key files (hub log key, validator key)', () => {
  it('creates the key once, mode 0600, and loads the same key afterwards', () => {
    const file = path.join(dir(), 'data', 'hub.key');
    const first = loadOrCreateHubKey(file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(isId(first.key.hubId, 'hub')).toBe(true);
    const again = loadOrCreateHubKey(file);
    expect(again.created).toBe(false);
    expect(again.key.hubId).toBe(first.key.hubId);
    expect(readFileSync(file, 'utf8')).toContain('"format": "wattproof-hub-key/1"');

    const vfile = path.join(path.dirname(file), 'validator.key');
    const v = loadOrCreateValidatorKey(vfile).key;
    expect(isId(v.kid, 'val')).toBe(true);
    expect(loadValidatorKey(vfile).kid).toBe(v.kid);
    expect(JSON.parse(readFileSync(vfile, 'utf8'))).toMatchObject({
      format: 'wattproof-validator-key/1',
      kid: v.kid,
    });
  });

  it('refuses a key file others can read, naming the fix', () => {
    const file = path.join(dir(), 'hub.key');
    loadOrCreateHubKey(file);
    chmodSync(file, 0o644);
    expect(() => loadHubKey(file)).toThrow(HubKeyError);
    expect(() => loadHubKey(file)).toThrow(/readable by others \(mode 644\); run: chmod 600/);
  });

  it('refuses another kind of key file, and an id that is not its key’s', () => {
    const d = dir();
    const vfile = path.join(d, 'validator.key');
    loadOrCreateValidatorKey(vfile);
    expect(() => loadHubKey(vfile)).toThrow(/is not a hub key file \(format "wattproof-hub-key\/1"/);

    const file = path.join(d, 'hub.key');
    loadOrCreateHubKey(file);
    const body = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    writeFileSync(file, JSON.stringify({ ...body, hubId: 'hub-aaaaaaaaaaaaaaaa' }), { mode: 0o600 });
    expect(() => loadHubKey(file)).toThrow(/hubId hub-aaaaaaaaaaaaaaaa does not belong to its secret key/);
    writeFileSync(file, JSON.stringify({ ...body, secretKey: 'AAAA' }), { mode: 0o600 });
    expect(() => loadHubKey(file)).toThrow(/secretKey is not 32 bytes/);
    writeFileSync(file, 'not json', { mode: 0o600 });
    expect(() => loadHubKey(file)).toThrow(/is not a hub key file/);
  });
});
