import type { Command } from 'commander';
import QRCode from 'qrcode';
import { ExitCode } from '../exit-codes.js';
import { enrolmentUri, loadIdentity, publicIdentity } from '../identity.js';
import { runCommand, stateDirFrom } from './common.js';

export function register(program: Command): void {
  const keys = program.command('keys').description('Show this gateway’s public identity');
  keys
    .command('show')
    .description('Print the gateway id and public key (never the private key)')
    .option('-c, --config <file>', 'agent config file (default /etc/wattproof/agent.yaml)')
    .option('--state-dir <dir>', 'state directory (overrides gateway.stateDir of the config)')
    .option('--json', 'print { "gatewayId": ..., "publicKey": <base64url> }')
    .option('--qr', 'also print the enrolment QR code')
    .action((opts: { config?: string; stateDir?: string; json?: boolean; qr?: boolean }) =>
      runCommand('keys show', async () => {
        const id = loadIdentity(stateDirFrom(opts));
        const pub = publicIdentity(id);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(pub)}\n`);
          return ExitCode.ok;
        }
        process.stdout.write(`gateway id:  ${pub.gatewayId}\npublic key:  ${pub.publicKey}\n`);
        if (opts.qr) {
          process.stdout.write(await QRCode.toString(enrolmentUri(id), { type: 'terminal', small: true }));
        }
        return ExitCode.ok;
      }),
    );
}
