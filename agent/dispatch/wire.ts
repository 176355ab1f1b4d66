// Dispatch wired into `wattproof-agent run`: the battery on the agent's Modbus buses (model 124
// found by discovery on first use, found again after a failure), the hub key from the credentials
// file, the dispatch tables in the outbox's database, and the uplink's two command topics.
import type { Logger } from 'pino';
import { SunSpecBatteryControl } from '../../device-drivers/battery-control.js';
import type { Clock } from '../clock.js';
import type { AgentConfig, DeviceConfig } from '../config.js';
import type { Buses } from '../meter-source.js';
import type { Outbox } from '../outbox.js';
import type { Uplink } from '../uplink.js';
import { AgentDispatcher, type BatteryPort } from './dispatcher.js';
import { loadHubKey } from './hub-key.js';
import type { HubKey } from './receive.js';
import { DispatchStore } from './store.js';

/** The battery behind dispatch.battery, opened on first use. */
function batteryOn(buses: Buses, b: NonNullable<AgentConfig['dispatch']['battery']>): BatteryPort {
  const device: DeviceConfig = {
    name: 'dispatch-battery',
    transport: b.transport,
    unit: b.unit,
    kind: 'sunspec',
    role: 'battery',
    pollSeconds: 5,
    ...(b.sunspecBase !== undefined ? { sunspecBase: b.sunspecBase } : {}),
  } as DeviceConfig;
  const bus = buses.busFor(device);
  let control: Promise<SunSpecBatteryControl> | undefined;
  const open = () => {
    control ??= SunSpecBatteryControl.open(
      bus,
      b.unit,
      b.sunspecBase !== undefined ? { bases: [b.sunspecBase] } : {},
    );
    return control.catch((err) => {
      control = undefined;
      throw err;
    });
  };
  return {
    state: async () => (await open()).state(),
    setpoint: async (w, revert) => (await open()).setpoint(w, revert),
  };
}

export function dispatchFor(o: {
  config: AgentConfig;
  gatewayId: string;
  outbox: Outbox;
  clock: Clock;
  log: Logger;
  buses: Buses;
  credentialsFile: string;
}) {
  const d = o.config.dispatch;
  const log = o.log.child({ part: 'dispatch' });
  let uplink: Uplink | undefined;
  let warned = false;
  const hubKey = (): HubKey | null => {
    const k = loadHubKey(o.credentialsFile);
    if (k.key === null && !warned) {
      warned = true;
      log.warn({ why: k.why }, 'no hub key: every dispatch command will be refused');
    }
    return k.key;
  };
  const dispatcher = new AgentDispatcher({
    gatewayId: o.gatewayId,
    limits: {
      enabled: d.enabled,
      socMinPct: d.socMinPct,
      socMaxPct: d.socMaxPct,
      maxDischargeW: d.maxDischargeW ?? 0,
      maxChargeW: d.maxChargeW ?? 0,
    },
    hubKey,
    battery: d.battery ? batteryOn(o.buses, d.battery) : null,
    store: new DispatchStore(o.outbox.db),
    outbox: o.outbox,
    clock: o.clock,
    log,
    measureAfterMs: d.measureAfterSeconds * 1000,
    onSigned: () => uplink?.kick(),
  });
  if (d.enabled) log.info({ battery: d.battery }, 'dispatch enabled');
  return {
    dispatcher,
    /** Flexibility contracts stay here; the rest go on to the contract watcher. */
    contracts: (next: (text: string) => void) => (text: string) => {
      if (!dispatcher.offerContract(text)) next(text);
    },
    onDispatch: (text: string) => void dispatcher.onCommand(text),
    /** The uplink the responses go out on. */
    attach(u: Uplink): Uplink {
      uplink = u;
      return u;
    },
    stop: () => dispatcher.stop(),
  };
}
