// The hub survives its broker restarting: it reconnects, subscribes again (a Mosquitto without
// persistence forgets every session), and ingest goes on.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { startTestHub, TestGateway, waitFor } from './support/hub-fixtures.js';
import { type RunningMosquitto, startMosquitto } from './support/mosquitto.js';

const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

describe('hub and a restarting broker', () => {
  it('keeps ingesting after Mosquitto restarts without persistence', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-hub-restart-'));
    const broker: RunningMosquitto = await startMosquitto({ dir });
    stops.push(() => broker.stop());
    const { hub } = await startTestHub({
      dataDir: path.join(dir, 'hub'),
      broker: { kind: 'external', url: broker.url, username: 'hub', password: 'unused-on-an-open-broker' },
    });
    stops.push(() => hub.stop());
    const g = new TestGateway();
    await g.enrol(hub.httpUrl);
    await g.connect();
    const first = g.nextProof();
    await g.publishProof(first);
    await g.receiptFor(first, 'accepted');
    await g.close();

    await broker.restart();
    const second = g.nextProof();
    await waitFor(
      'a receipt after the restart',
      async () => {
        try {
          await g.close();
          await g.connect();
          await g.publishProof(second);
          return await g.receiptFor(second, 'accepted', 1_000);
        } catch {
          return undefined;
        }
      },
      20_000,
    );
    stops.push(() => g.close());
  });
});
