export { CONTENT_TYPE, DEVICE_HEALTH_STATES, type MetricsSnapshot, renderMetrics } from './exposition.js';
export { PollCounter, type PollCounts } from './poll-counter.js';
export { type ServeAgentMetricsOptions, serveAgentMetrics } from './serve.js';
export { type MetricsServer, parseListen, startMetricsServer } from './server.js';
