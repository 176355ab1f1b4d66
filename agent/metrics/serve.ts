// Starts the metrics endpoint for `run` when the config enables it. A port that cannot be bound is
// logged and the agent goes on metering: its figures matter less than its proofs.
import type { Logger } from 'pino';
import type { AgentStatus } from '../agent.js';
import type { Clock } from '../clock.js';
import type { DispatchStats } from '../dispatch/dispatcher.js';
import { renderMetrics } from './exposition.js';
import type { PollCounter } from './poll-counter.js';
import { type MetricsServer, startMetricsServer } from './server.js';

export interface ServeAgentMetricsOptions {
  config: { enabled: boolean; listen: string };
  agent: { readonly status: AgentStatus };
  dispatch: { readonly stats: DispatchStats };
  polls: PollCounter;
  clock: Clock;
  log: Logger;
}

export async function serveAgentMetrics(o: ServeAgentMetricsOptions): Promise<MetricsServer | undefined> {
  if (!o.config.enabled) return undefined;
  try {
    const server = await startMetricsServer(o.config.listen, () =>
      renderMetrics({
        status: o.agent.status,
        polls: o.polls.counts,
        dispatch: o.dispatch.stats,
        now: o.clock.now(),
        rssBytes: process.memoryUsage.rss(),
      }),
    );
    o.log.info(server.address, 'metrics listening');
    return server;
  } catch (err) {
    o.log.error(
      { listen: o.config.listen, err: err instanceof Error ? err.message : String(err) },
      'cannot serve metrics; check metrics.listen (the agent goes on without them)',
    );
    return undefined;
  }
}
