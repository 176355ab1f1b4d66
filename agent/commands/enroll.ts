import type { Command } from 'commander';
import { credentialsPath, saveCredentials } from '../credentials.js';
import { ExitCode } from '../exit-codes.js';
import { loadIdentity, publicIdentity } from '../identity.js';
import { CommandFailure, loadConfigOrFail, runCommand } from './common.js';

interface EnrollResponse {
  gatewayId: string;
  site?: string;
  participant?: string | null;
  mqtt: { url: string; username: string; password: string; topicPrefix?: string };
  hub?: { id?: string; publicKey?: string; logOrigin?: string; logVerifierKey?: string };
  binding?: { index: number; leafHash: string };
}

export function register(program: Command): void {
  program
    .command('enroll')
    .description('Enrol this gateway with a hub using a one-time token; stores the MQTT credentials (0600)')
    .requiredOption('--hub <url>', 'the hub’s HTTP base URL, e.g. https://hub.example.net')
    .requiredOption('--token <token>', 'the one-time enrolment token from the operator (wpt_…)')
    .option('-c, --config <file>', 'agent config file (default /etc/wattproof/agent.yaml)')
    .action((opts: { hub: string; token: string; config?: string }) =>
      runCommand('enroll', async () => {
        const config = loadConfigOrFail(opts.config);
        const id = loadIdentity(config.gateway.stateDir);
        const pub = publicIdentity(id);
        const url = `${opts.hub.replace(/\/+$/, '')}/v1/enroll`;
        let res: Response;
        try {
          res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ token: opts.token, publicKey: pub.publicKey, gatewayId: pub.gatewayId }),
            signal: AbortSignal.timeout(15_000),
          });
        } catch (err) {
          throw new CommandFailure(
            `cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}`,
            ExitCode.failure,
          );
        }
        const text = await res.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new CommandFailure(
            `${url} answered ${res.status} with something that is not JSON`,
            ExitCode.failure,
          );
        }
        if (!res.ok) {
          const e = body as { error?: string; detail?: string };
          const retry = res.headers.get('retry-after');
          throw new CommandFailure(
            `the hub refused the enrolment (${res.status} ${e.error ?? 'error'}): ${e.detail ?? ''}${retry ? ` (retry after ${retry} s)` : ''}`,
            ExitCode.failure,
          );
        }
        const r = body as EnrollResponse;
        if (
          r.gatewayId !== pub.gatewayId ||
          typeof r.mqtt?.username !== 'string' ||
          typeof r.mqtt?.password !== 'string'
        ) {
          throw new CommandFailure(
            'the hub’s answer does not name this gateway or lacks MQTT credentials',
            ExitCode.failure,
          );
        }
        const file = credentialsPath(config);
        saveCredentials(file, {
          url: r.mqtt.url,
          username: r.mqtt.username,
          password: r.mqtt.password,
          ...(r.hub?.logVerifierKey ? { logVerifierKey: r.hub.logVerifierKey } : {}),
          ...(r.hub?.id ? { hubId: r.hub.id } : {}),
          ...(r.hub?.publicKey ? { hubPublicKey: r.hub.publicKey } : {}),
          ...(r.site ? { site: r.site } : {}),
          ...(r.binding ? { binding: r.binding } : {}),
        });
        process.stdout.write(
          [
            `Enrolled ${pub.gatewayId}${r.site ? ` at site ${r.site}` : ''}.`,
            `MQTT: ${r.mqtt.url} as ${r.mqtt.username}; credentials stored in ${file} (mode 0600).`,
            ...(r.binding ? [`Ledger binding: entry ${r.binding.index}.`] : []),
            ...(config.hub.url !== r.mqtt.url
              ? [`Note: hub.url in the config is ${config.hub.url}; the hub says ${r.mqtt.url}.`]
              : []),
            '',
          ].join('\n'),
        );
        return ExitCode.ok;
      }),
    );
}
