// MQTT credentials from enrolment: <stateDir>/mqtt-credentials.json, mode 0600, written
// atomically by `wattproof-agent enroll` and read by `run`.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from './config.js';
import { writeFileAtomic } from './files.js';
import type { MqttCredentials } from './uplink.js';

export const CREDENTIALS_FILE = 'mqtt-credentials.json';

export function credentialsPath(config: AgentConfig): string {
  return config.hub.credentialsFile ?? path.join(config.gateway.stateDir, CREDENTIALS_FILE);
}

export function loadCredentials(file: string): MqttCredentials | undefined {
  if (!existsSync(file)) return undefined;
  const rec = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const str = (k: string) => (typeof rec[k] === 'string' ? (rec[k] as string) : undefined);
  const out: MqttCredentials = {};
  for (const k of ['url', 'username', 'password', 'logVerifierKey'] as const) {
    const v = str(k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export function saveCredentials(file: string, creds: MqttCredentials & Record<string, unknown>): void {
  writeFileAtomic(file, `${JSON.stringify(creds, null, 2)}\n`, 0o600);
}
