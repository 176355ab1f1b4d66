import type { Command } from 'commander';
import QRCode from 'qrcode';
import { ExitCode } from '../exit-codes.js';
import { createIdentity, enrolmentUri, publicIdentity } from '../identity.js';
import { runCommand, stateDirFrom } from './common.js';

export function register(program: Command): void {
  program
    .command('init')
    .description('Create the state directory and this gateway’s key; print its id, public key and a QR code')
    .option('-c, --config <file>', 'agent config file (default /etc/wattproof/agent.yaml)')
    .option('--state-dir <dir>', 'state directory (overrides gateway.stateDir of the config)')
    .option('--force', 'replace an existing key (the gateway gets a new id and must be enrolled again)')
    .option('--json', 'print { gatewayId, publicKey } as JSON, without the QR code')
    .action((opts: { config?: string; stateDir?: string; force?: boolean; json?: boolean }) =>
      runCommand('init', async () => {
        const stateDir = stateDirFrom(opts);
        const id = createIdentity(stateDir, { force: opts.force === true });
        const pub = publicIdentity(id);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(pub)}\n`);
          return ExitCode.ok;
        }
        const qr = await QRCode.toString(enrolmentUri(id), { type: 'terminal', small: true });
        process.stdout.write(
          [
            `Gateway key created in ${stateDir}`,
            `gateway id:  ${pub.gatewayId}`,
            `public key:  ${pub.publicKey}`,
            '',
            qr,
            'Next: `wattproof-agent enroll --hub URL --token TOKEN` with a token from the operator.',
            '',
          ].join('\n'),
        );
        return ExitCode.ok;
      }),
    );
}
