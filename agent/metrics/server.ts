// Serves GET /metrics on a loopback address for a scraper on the same machine (node:http, no
// framework: the agent's memory budget is tight). Anything else gets 404 or 405. The text is
// rendered on each request from what the agent knows at that moment.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTENT_TYPE } from './exposition.js';

export interface MetricsServer {
  /** The address actually bound (the port is the kernel's choice when the config says 0). */
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** `127.0.0.1:9464` or `[::1]:9464` → host and port (the config has checked the form). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`metrics.listen: ${JSON.stringify(listen)} is not host:port`);
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) };
}

export function startMetricsServer(listen: string, render: () => string): Promise<MetricsServer> {
  const { host, port } = parseListen(listen);
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found; try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    let body: string;
    try {
      body = render();
    } catch (err) {
      res
        .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`cannot read the agent's figures: ${err instanceof Error ? err.message : String(err)}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // A scraper holds no connection open for long; keep idle sockets from piling up.
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve({
        address: { host: a.address, port: a.port },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
