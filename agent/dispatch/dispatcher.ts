// The agent's dispatch handling: a command from the hub is checked (receive.ts: signature;
// safety.ts: gateway, freshness, contract, installer limits, state of charge), the setpoint is
// written to the battery and read back, the response is measured after `measureAfterMs`, and a
// chained, signed dispatch response goes out through the outbox — applied with what was written
// and measured, or refused with the reason. At the command's end the battery is handed back to
// self-consumption (and the device's own revert timer does the same if the agent is gone).
// Commands are handled one at a time, in arrival order.
import type { Logger } from 'pino';
import {
  DISPATCH_RESPONSE_TYP,
  type DispatchCommand,
  type DispatchResponse,
  formatIssues,
  parseDispatchResponse,
} from '../../protocol/messages/index.js';
import type { Clock } from '../clock.js';
import type { Outbox } from '../outbox.js';
import { flexibilityContractOf } from './contracts.js';
import { type HubKey, receiveCommand } from './receive.js';
import { REFUSAL_CODES, type Refusal, type RefusalCode } from './refusals.js';
import { checkCommand, checkLocalLimits, checkStateOfCharge, type LocalLimits } from './safety.js';
import type { DispatchStore } from './store.js';

/** The battery as dispatch needs it (device-drivers/battery-control.ts on the real bus). */
export interface BatteryPort {
  state(): Promise<{ socPct: number | null; powerW: number | null }>;
  /** Sets the power (+ discharge, − charge, 0 = release); the device reverts after revertSeconds. */
  setpoint(setpointW: number, revertSeconds: number): Promise<{ appliedW: number }>;
}

export interface AgentDispatcherDeps {
  gatewayId: string;
  limits: LocalLimits;
  /** The hub's key (read when needed: enrolment may come after start). */
  hubKey: () => HubKey | null;
  /** The battery, or null when none is configured. */
  battery: BatteryPort | null;
  store: DispatchStore;
  outbox: Outbox;
  clock: Clock;
  log: Logger;
  /** How long after writing the measured response is read, agent-clock ms. */
  measureAfterMs: number;
  /** Called after a response was signed into the outbox (the uplink sends it). */
  onSigned?: (r: DispatchResponse) => void;
}

/** What dispatch has done since start (the agent's metrics read it; docs/agent-config.md, "metrics"). */
export interface DispatchStats {
  /** Every command message off the topic, readable or not. */
  received: number;
  /** Commands answered `applied` (the setpoint written and read back). */
  applied: number;
  refused: number;
  /** Refusals by code: every code is present, 0 until used. */
  refusedBy: Record<RefusalCode, number>;
  /** Unanswered: no contract to answer about. */
  unreadable: number;
  /** Unanswered: the same command again (its first answer stands). */
  duplicates: number;
  contracts: number;
  /** Setpoints handed back to self-consumption by the release at their command's end. */
  reverted: number;
  /** Setpoint writes that failed or read back something else: applying a command, releasing one. */
  writeFailures: { apply: number; release: number };
  /** The setpoint in force as last written, W (+ discharge, − charge); 0 for none. */
  setpointW: number;
  /** When the last command message arrived, agent-clock UTC ms; null before the first. */
  lastCommandAt: number | null;
}

/** Stats before anything happened. */
export function emptyDispatchStats(): DispatchStats {
  return {
    received: 0,
    applied: 0,
    refused: 0,
    refusedBy: Object.fromEntries(REFUSAL_CODES.map((c) => [c, 0])) as Record<RefusalCode, number>,
    unreadable: 0,
    duplicates: 0,
    contracts: 0,
    reverted: 0,
    writeFailures: { apply: 0, release: 0 },
    setpointW: 0,
    lastCommandAt: null,
  };
}

export class AgentDispatcher {
  readonly stats: DispatchStats = emptyDispatchStats();
  private chain: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<string>();
  private release: { hash: string; cancel: () => void } | null = null;
  private readonly timers = new Set<() => void>();
  private stopped = false;

  constructor(private readonly d: AgentDispatcherDeps) {}

  /**
   * A contract the hub sent: a flexibility contract for this gateway is kept (returns true); any
   * other contract is left to the contract watcher (returns false).
   */
  offerContract(text: string): boolean {
    const r = flexibilityContractOf(text, this.d.gatewayId, this.d.hubKey());
    if (r.kind === 'other') return false;
    if (r.kind === 'not-mine') {
      this.d.log.warn({ reason: r.reason }, 'flexibility contract refused');
      return true;
    }
    this.d.store.addContract(r.id, r.contract);
    this.stats.contracts++;
    this.d.log.info({ contract: r.id, window: r.contract.window }, 'flexibility contract kept for dispatch');
    return true;
  }

  /** A command's MQTT payload. Resolves when it has been answered (or scheduled). */
  onCommand(text: string): Promise<void> {
    return this.enqueue(() => this.handle(text));
  }

  /** Runs `work` after everything queued before it (one battery conversation at a time). */
  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work);
    this.chain = next.catch((err) => {
      this.d.log.error({ err: err instanceof Error ? err.message : String(err) }, 'dispatch handling failed');
    });
    return this.chain;
  }

  /** Cancels timers; the battery's own revert timer hands it back if a setpoint is in force. */
  stop(): void {
    this.stopped = true;
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    this.release?.cancel();
    this.release = null;
  }

  private after(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.d.clock.after(ms, () => {
        this.timers.delete(cancel);
        resolve();
      });
      this.timers.add(cancel);
    });
  }

  private async handle(text: string): Promise<void> {
    const { log, store, clock, gatewayId } = this.d;
    this.stats.received++;
    this.stats.lastCommandAt = clock.now();
    const r = receiveCommand(text, this.d.hubKey());
    if (r.kind === 'unreadable') {
      this.stats.unreadable++;
      log.warn(
        { detail: r.detail, unreadable: this.stats.unreadable },
        'dispatch command unreadable; nothing to answer',
      );
      return;
    }
    if (store.answered(r.hash) || this.inFlight.has(r.hash)) {
      // A redelivery (QoS 1) or a replay of the same bytes: the first answer stands.
      this.stats.duplicates++;
      log.warn({ command: r.hash }, 'dispatch command seen before; its first answer stands');
      return;
    }
    if (r.kind === 'refuse') {
      this.refuse(r.hash, null, r.contract, r.reason);
      return;
    }
    const cmd = r.command;
    const now = clock.now();
    const checked = checkCommand({
      command: cmd,
      gatewayId,
      now,
      seen: store.nonceUsed(cmd.nonce),
      contract: store.contract(cmd.contract),
    });
    if (!checked.ok) return this.refuse(r.hash, cmd.nonce, cmd.contract, checked.reason);
    const local = checkLocalLimits(cmd.setpointW, this.d.limits);
    if (!local.ok) return this.refuse(r.hash, cmd.nonce, cmd.contract, local.reason);
    const battery = this.d.battery;
    if (battery === null)
      return this.refuse(r.hash, cmd.nonce, cmd.contract, {
        code: 'no-battery',
        message: 'no battery is configured for dispatch (dispatch.battery)',
      });
    this.inFlight.add(r.hash);
    const run = () => this.apply(r.hash, cmd, battery).finally(() => this.inFlight.delete(r.hash));
    if (cmd.start <= now) return run();
    // A command for later waits for its start without holding up the commands behind it.
    const cancel = clock.at(cmd.start, () => {
      this.timers.delete(cancel);
      if (!this.stopped) void this.enqueue(run);
    });
    this.timers.add(cancel);
  }

  private async apply(hash: string, cmd: DispatchCommand, battery: BatteryPort): Promise<void> {
    const { clock, log } = this.d;
    let soc: number | null;
    try {
      soc = (await battery.state()).socPct;
    } catch (err) {
      return this.refuse(hash, cmd.nonce, cmd.contract, {
        code: 'battery-unreachable',
        message: `cannot read the battery: ${(err as Error).message}`.slice(0, 500),
      });
    }
    const socCheck = checkStateOfCharge(cmd.setpointW, soc, this.d.limits);
    if (!socCheck.ok) return this.refuse(hash, cmd.nonce, cmd.contract, socCheck.reason);
    if (clock.now() > cmd.expires)
      return this.refuse(hash, cmd.nonce, cmd.contract, {
        code: 'expired',
        message: 'the command expired before it could be applied',
      });
    const revertSeconds = Math.max(1, Math.ceil((cmd.end - clock.now()) / 1000));
    let appliedW: number;
    try {
      ({ appliedW } = await battery.setpoint(cmd.setpointW, revertSeconds));
    } catch (err) {
      this.stats.writeFailures.apply++;
      return this.refuse(hash, cmd.nonce, cmd.contract, {
        code: 'write-failed',
        message: `writing the setpoint failed: ${(err as Error).message}`.slice(0, 500),
      });
    }
    log.info(
      { command: hash, contract: cmd.contract, setpointW: cmd.setpointW, appliedW },
      'dispatch setpoint written',
    );
    this.stats.setpointW = appliedW;
    this.scheduleRelease(hash, cmd.end, battery);
    await this.after(this.d.measureAfterMs);
    let measuredW: number | undefined;
    try {
      const p = (await battery.state()).powerW;
      if (p !== null) measuredW = Math.round(p);
    } catch (err) {
      log.warn(
        { command: hash, err: (err as Error).message },
        'cannot read the battery’s response; answering without it',
      );
    }
    this.respond(hash, cmd.nonce, {
      contract: cmd.contract,
      outcome: 'applied',
      appliedW,
      ...(measuredW !== undefined ? { measuredW } : {}),
    });
    this.stats.applied++;
  }

  /** At the command's end the battery goes back to self-consumption, unless a later command took over. */
  private scheduleRelease(hash: string, end: number, battery: BatteryPort): void {
    this.release?.cancel();
    const cancel = this.d.clock.at(end, () => {
      if (this.release?.hash !== hash) return;
      this.release = null;
      // Either way no setpoint is in force after the end: the device's revert timer ends it too.
      this.stats.setpointW = 0;
      battery.setpoint(0, 0).then(
        () => {
          this.stats.reverted++;
          this.d.log.info({ command: hash }, 'dispatch period over; battery back to self-consumption');
        },
        (err) => {
          this.stats.writeFailures.release++;
          this.d.log.warn(
            { command: hash, err: (err as Error).message },
            'releasing the battery failed; its revert timer will',
          );
        },
      );
    });
    this.release = { hash, cancel };
  }

  private refuse(hash: string, nonce: string | null, contract: string, reason: Refusal): void {
    this.stats.refused++;
    this.stats.refusedBy[reason.code]++;
    this.d.log.warn(
      { command: hash, contract, code: reason.code, reason: reason.message },
      'dispatch command refused',
    );
    this.respond(hash, nonce, { contract, outcome: 'refused', reason });
  }

  private respond(
    hash: string,
    nonce: string | null,
    body: Pick<DispatchResponse, 'contract' | 'outcome'> &
      Partial<Pick<DispatchResponse, 'reason' | 'appliedW' | 'measuredW'>>,
  ): void {
    const { outbox, store, clock } = this.d;
    const at = clock.now();
    let signed: DispatchResponse | undefined;
    // A nonce already used by another command is not recorded twice (it stays the first one's).
    const recordNonce = nonce !== null && !store.nonceUsed(nonce) ? nonce : null;
    outbox.appendSigned(
      'event',
      (link) => {
        const payload = { gw: link.gw, seq: link.seq, prev: link.prev, command: hash, ...body, at };
        const parsed = parseDispatchResponse(payload);
        if (!parsed.ok) throw new Error(`dispatch response would be invalid: ${formatIssues(parsed.issues)}`);
        signed = parsed.value;
        return { typ: DISPATCH_RESPONSE_TYP, payload };
      },
      at,
      () => store.markAnswered(hash, recordNonce, body.outcome, at),
    );
    if (signed) this.d.onSigned?.(signed);
  }
}
