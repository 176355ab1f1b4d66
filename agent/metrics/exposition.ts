// The agent's own figures in the Prometheus text format (version 0.0.4), written by hand: a few
// dozen lines, where a metrics library would cost the agent memory it does not have. Pure: the
// caller passes what the agent knows right now.
import type { AgentStatus } from '../agent.js';
import type { DispatchStats } from '../dispatch/dispatcher.js';
import { REFUSAL_CODES } from '../dispatch/refusals.js';
import type { PollCounts } from './poll-counter.js';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The health states a device row can show (agent status). */
export const DEVICE_HEALTH_STATES = ['ok', 'degraded', 'unreachable', 'unknown'] as const;

export interface MetricsSnapshot {
  status: AgentStatus;
  /** Reads per device since start, and how many of them failed. */
  polls: ReadonlyMap<string, PollCounts>;
  /** What dispatch has done since start. */
  dispatch: DispatchStats;
  /** The agent's clock now, UTC ms (ages are measured on it, so accelerated time stays coherent). */
  now: number;
  /** Resident set size of the process, bytes. */
  rssBytes: number;
}

/** A label value with \, " and newline escaped as the format requires. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

class Writer {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter', help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, labels?: Record<string, string>): this {
    const l = labels
      ? `{${Object.entries(labels)
          .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
          .join(',')}}`
      : '';
    this.lines.push(`${name}${l} ${Number.isFinite(value) ? String(value) : 'NaN'}`);
    return this;
  }

  /** A one-sample gauge or counter. */
  one(name: string, type: 'gauge' | 'counter', help: string, value: number): this {
    return this.family(name, type, help).sample(name, value);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

const P = 'wattproof_agent_';
const seconds = (ms: number) => Math.max(0, Math.round(ms) / 1000);

export function renderMetrics(s: MetricsSnapshot): string {
  const st = s.status;
  const w = new Writer();
  w.family(`${P}info`, 'gauge', 'The running agent: gateway id and version (always 1).').sample(
    `${P}info`,
    1,
    {
      gateway: st.gatewayId,
      version: st.version,
    },
  );
  w.one(
    `${P}outbox_pending`,
    'gauge',
    'Signed messages in the outbox waiting for a receipt.',
    st.outbox.pending,
  );
  w.one(
    `${P}outbox_rejected`,
    'gauge',
    'Messages the hub refused for good (kept, not resent).',
    st.outbox.rejected,
  );
  w.one(
    `${P}outbox_oldest_age_seconds`,
    'gauge',
    'Age of the oldest message waiting for a receipt (0 when none waits).',
    st.outbox.oldestCreatedAt === null ? 0 : seconds(s.now - st.outbox.oldestCreatedAt),
  );
  w.one(
    `${P}chain_head_seq`,
    'gauge',
    'Sequence number of the last signed message (-1 before the first).',
    st.outbox.headSeq,
  );
  // Absent until the first receipt: an age of "never" has no number.
  if (st.lastReceipt) {
    w.one(
      `${P}last_receipt_age_seconds`,
      'gauge',
      'Time since the hub last receipted a message.',
      seconds(s.now - st.lastReceipt.at),
    );
    w.one(
      `${P}last_receipt_seq`,
      'gauge',
      'Sequence number of the newest receipted message.',
      st.lastReceipt.seq,
    );
  }
  w.one(`${P}mqtt_connected`, 'gauge', '1 while connected to the hub broker.', st.broker?.connected ? 1 : 0);
  w.one(
    `${P}mqtt_connects_total`,
    'counter',
    'Connections made to the hub broker since start.',
    st.broker?.connects ?? 0,
  );
  w.one(
    `${P}clock_synchronised`,
    'gauge',
    '1 while the system clock is synchronised (proofs are flagged otherwise).',
    st.clock.synchronised ? 1 : 0,
  );
  w.one(
    `${P}storage_error`,
    'gauge',
    '1 while the outbox cannot be written (e.g. a full disk).',
    st.storageError === null ? 0 : 1,
  );

  const devices = st.devices;
  w.family(`${P}device_polls_total`, 'counter', 'Device reads attempted since start.');
  for (const d of devices)
    w.sample(`${P}device_polls_total`, s.polls.get(d.name)?.polls ?? 0, { device: d.name });
  w.family(`${P}device_poll_errors_total`, 'counter', 'Device reads that failed since start.');
  for (const d of devices)
    w.sample(`${P}device_poll_errors_total`, s.polls.get(d.name)?.errors ?? 0, { device: d.name });
  w.family(`${P}device_health`, 'gauge', "1 for the device's current health state, 0 for the others.");
  for (const d of devices)
    for (const h of DEVICE_HEALTH_STATES)
      w.sample(`${P}device_health`, d.health === h ? 1 : 0, { device: d.name, state: h });
  w.family(`${P}proofs_signed_total`, 'counter', 'Meter proofs signed since start.');
  for (const d of devices) w.sample(`${P}proofs_signed_total`, d.proofs, { device: d.name });
  w.family(
    `${P}intervals_skipped_total`,
    'counter',
    'Intervals left unproven (no reading close enough to their end).',
  );
  for (const d of devices) w.sample(`${P}intervals_skipped_total`, d.skippedIntervals, { device: d.name });
  w.family(`${P}last_reading_age_seconds`, 'gauge', 'Time since the device was last read successfully.');
  for (const d of devices)
    if (d.lastReading)
      w.sample(`${P}last_reading_age_seconds`, seconds(s.now - d.lastReading.at), { device: d.name });

  w.one(`${P}telemetry_buffered`, 'gauge', 'Telemetry samples waiting to be sent.', st.telemetry.buffered);
  w.one(
    `${P}telemetry_dropped_total`,
    'counter',
    'Telemetry samples dropped (buffer full).',
    st.telemetry.dropped,
  );
  w.one(`${P}telemetry_batches_sent_total`, 'counter', 'Telemetry batches published.', st.telemetry.sent);
  w.one(`${P}contracts_watching`, 'gauge', 'Contracts watched for fulfilment.', st.contracts.watching);
  w.one(
    `${P}fulfilment_events_signed_total`,
    'counter',
    'Fulfilment events signed since start.',
    st.contracts.eventsSigned,
  );
  writeDispatch(w, s.dispatch);
  w.one(
    `${P}event_loop_delay_max_seconds`,
    'gauge',
    'Longest event-loop delay seen since start.',
    st.eventLoopDelayMaxMs / 1000,
  );
  w.one('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', s.rssBytes);
  return w.text();
}

/** Dispatch commands and the battery they move. Labels come from closed lists (bounded series). */
function writeDispatch(w: Writer, d: DispatchStats): void {
  w.one(
    `${P}dispatch_commands_received_total`,
    'counter',
    'Dispatch command messages received (readable or not).',
    d.received,
  );
  w.one(
    `${P}dispatch_commands_applied_total`,
    'counter',
    'Dispatch commands applied: setpoint written, read back and answered applied.',
    d.applied,
  );
  w.family(
    `${P}dispatch_commands_refused_total`,
    'counter',
    'Dispatch commands answered with a signed refusal, by refusal code.',
  );
  for (const code of REFUSAL_CODES)
    w.sample(`${P}dispatch_commands_refused_total`, d.refusedBy[code], { reason: code });
  w.family(
    `${P}dispatch_commands_unanswered_total`,
    'counter',
    'Dispatch commands left unanswered: unreadable, or a duplicate of one already answered.',
  )
    .sample(`${P}dispatch_commands_unanswered_total`, d.unreadable, { why: 'unreadable' })
    .sample(`${P}dispatch_commands_unanswered_total`, d.duplicates, { why: 'duplicate' });
  w.one(
    `${P}dispatch_reverted_total`,
    'counter',
    "Setpoints handed back to self-consumption at their command's end.",
    d.reverted,
  );
  w.family(
    `${P}dispatch_write_failures_total`,
    'counter',
    'Battery setpoint writes that failed or read back something else, by stage.',
  )
    .sample(`${P}dispatch_write_failures_total`, d.writeFailures.apply, { stage: 'apply' })
    .sample(`${P}dispatch_write_failures_total`, d.writeFailures.release, { stage: 'release' });
  w.one(
    `${P}dispatch_setpoint_watts`,
    'gauge',
    'Battery setpoint in force, W (+ discharge, - charge); 0 when none.',
    d.setpointW,
  );
  // Absent before the first command, like the receipt age: "never" has no time.
  if (d.lastCommandAt !== null)
    w.one(
      `${P}dispatch_last_command_timestamp_seconds`,
      'gauge',
      "When the last dispatch command arrived, Unix seconds on the agent's clock.",
      d.lastCommandAt / 1000,
    );
}
