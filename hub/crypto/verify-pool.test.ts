// Verification in worker threads gives the main thread's answers, in job order.
import { describe, expect, it } from 'vitest';
import { gatewayIdOf, generateSecretKey, publicKeyOf, signJws } from '../../protocol/index.js';
import type { VerifyJob } from './verify-jobs.js';
import { InThreadVerifier, WorkerPoolVerifier } from './verify-pool.js';

describe('WorkerPoolVerifier', () => {
  it('answers like the main thread, in order, across two workers', async () => {
    const secret = generateSecretKey();
    const pub = publicKeyOf(secret);
    const gw = gatewayIdOf(pub);
    const jobs: VerifyJob[] = [];
    for (let i = 0; i < 60; i++) {
      const jws = signJws(
        'wattproof.gateway-status.v1',
        gw,
        {
          gw,
          state: 'online',
          version: `1.${i}`,
          configHash: 'A'.repeat(43),
          clockSynchronised: true,
          at: i,
        },
        secret,
      );
      // every third one tampered, every fifth one on the wrong typ
      const text = i % 3 === 0 ? `${jws.slice(0, -2)}AA` : jws;
      jobs.push({
        text,
        typs: i % 5 === 0 ? ['wattproof.meter-proof.v1'] : ['wattproof.gateway-status.v1'],
        kid: gw,
        publicKey: pub,
      });
    }
    const pool = WorkerPoolVerifier.create(2);
    expect(pool).toBeDefined();
    try {
      const fromWorkers = await pool!.verifyBatch(jobs);
      const onMain = await new InThreadVerifier().verifyBatch(jobs);
      expect(fromWorkers).toEqual(onMain);
      expect(fromWorkers.filter((o) => o.ok).length).toBeGreaterThan(20);
    } finally {
      await pool!.close();
    }
  });
});
