import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseHubConfig } from './config.js';
import { autoVerifyWorkers, hubOptionsFromConfig } from './hub.js';

const base = { dataDir: './data', http: { operatorToken: 'x'.repeat(32) } };
const log = pino({ level: 'silent' });

describe('ingest.verifyWorkers', () => {
  it('defaults to auto: one fewer than the cores, at most 4, never below 0', () => {
    expect(parseHubConfig(base, '/').ingest.verifyWorkers).toBe('auto');
    expect([1, 2, 3, 5, 64].map((cores) => autoVerifyWorkers(cores))).toEqual([0, 1, 2, 4, 4]);
    const options = hubOptionsFromConfig(parseHubConfig(base, '/'), log);
    expect(options.verifyWorkers).toBe(autoVerifyWorkers());
  });

  it('takes a number of threads as given, 0 included', () => {
    for (const n of [0, 3]) {
      const c = parseHubConfig({ ...base, ingest: { verifyWorkers: n } }, '/');
      expect(hubOptionsFromConfig(c, log).verifyWorkers).toBe(n);
    }
  });

  it('refuses anything else, naming the key and what it may be', () => {
    for (const bad of ['all', -1, 1.5, 65]) {
      expect(() => parseHubConfig({ ...base, ingest: { verifyWorkers: bad } }, '/')).toThrow(ConfigError);
    }
    expect(() => parseHubConfig({ ...base, ingest: { verifyWorkers: 'all' } }, '/')).toThrow(
      /ingest\.verifyWorkers: must be "auto" or a whole number of threads from 0 to 64/,
    );
  });
});
