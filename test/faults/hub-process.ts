// The built hub CLI (`wattproof-hub start`) as a process the hub SIGKILL scenario kills: readiness
// is the line the hub prints once its HTTP API and broker link are up (hub/commands/start.ts),
// waited for as an event with a generous bound (a restart on a large ledger on a loaded machine
// takes a while), and an optional aim (hub-aim.mjs) stops the hub at a chosen point for the kill.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubCliPath } from './checker.js';

const aimHook = path.join(path.dirname(fileURLToPath(import.meta.url)), 'hub-aim.mjs');

export type AimPoint = 'append' | 'checkpoint-signed' | 'checkpoint-stored';

export interface HubProcess {
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the URLs once the hub says it serves; rejects if it exits first. */
  ready: Promise<{ httpUrl: string; brokerUrl: string }>;
  /** Resolves when the hub stopped at its aimed point (never, without an aim). */
  aimed: Promise<AimPoint>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const READY = /http (http:\/\/\S+), broker (mqtt:\/\/\S+)/;
const AIMED = /wattproof-fault-aim reached (\S+)/;

export function spawnFaultHub(config: string, aim?: { point: AimPoint; nth: number }): HubProcess {
  const child = spawn(
    process.execPath,
    [...(aim ? ['--import', aimHook] : []), hubCliPath, 'start', '--config', config],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...(aim ? { WATTPROOF_FAULT_AIM: aim.point, WATTPROOF_FAULT_AIM_NTH: String(aim.nth) } : {}),
      },
    },
  );
  let err = '';
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<{ httpUrl: string; brokerUrl: string }>((resolve, reject) => {
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      const m = READY.exec(err);
      if (m) resolve({ httpUrl: m[1] as string, brokerUrl: m[2] as string });
    });
    void exited.then((e) =>
      reject(new Error(`the hub exited (${JSON.stringify(e)}) before it served:\n${err}`)),
    );
  });
  const aimed = new Promise<AimPoint>((resolve) => {
    child.stderr?.on('data', () => {
      const m = AIMED.exec(err);
      if (m) resolve(m[1] as AimPoint);
    });
  });
  // A kill before readiness is a normal outcome here; only an awaited `ready` reports it.
  ready.catch(() => undefined);
  return { child, stderr: () => err, ready, aimed, exited };
}

/** Rejects after `ms` with what is known, else settles as `p` does (a bound, not a wait). */
export function within<T>(p: Promise<T>, ms: number, what: string, detail: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms\n${detail()}`)), ms);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

export async function killHard(h: HubProcess): Promise<void> {
  if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
  await h.exited;
}
