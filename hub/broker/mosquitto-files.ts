// For an external Mosquitto: the hub owns its password file and ACL file. After each enrolment it
// rewrites both (atomically: temp file, then rename, mode 0600) and asks Mosquitto to reload them
// with SIGHUP when it knows Mosquitto's pid (from its pid file).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mosquittoAclText } from './acl.js';
import { hashMqttPassword } from './password-hash.js';

export interface MosquittoFilesOptions {
  passwordFile: string;
  aclFile: string;
  /** Mosquitto's pid_file; when set and readable, the hub sends SIGHUP after writing. */
  pidFile?: string;
  /** The hub's own MQTT account, added to the password file. */
  hubUsername: string;
  hubPassword: string;
}

function writeAtomically(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

export class MosquittoFiles {
  private readonly hubHash: string;

  constructor(private readonly opts: MosquittoFilesOptions) {
    this.hubHash = hashMqttPassword(opts.hubPassword);
  }

  /**
   * Writes both files from the credential table's `username:hash` lines and signals Mosquitto.
   * Returns whether a reload signal was sent.
   */
  write(gatewayPasswordLines: string): boolean {
    writeAtomically(
      this.opts.passwordFile,
      `${this.opts.hubUsername}:${this.hubHash}\n${gatewayPasswordLines}`,
    );
    writeAtomically(this.opts.aclFile, mosquittoAclText(this.opts.hubUsername));
    return this.reload();
  }

  reload(): boolean {
    if (!this.opts.pidFile) return false;
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(this.opts.pidFile, 'utf8').trim(), 10);
    } catch {
      return false;
    }
    if (!Number.isInteger(pid) || pid <= 1) return false;
    try {
      process.kill(pid, 'SIGHUP');
      return true;
    } catch {
      return false;
    }
  }
}
