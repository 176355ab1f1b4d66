// The update inbox: the unprivileged agent downloads bundles into <stateDir>/updates/ and the
// root-run wattproof-agent-update.service (started by wattproof-agent-update.path) installs them
// here. Every bundle leaves the inbox whatever happens to it, so the path unit does not fire
// again for the same file; the outcome goes to the journal and to last-result.json.
import { chownSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../files.js';
import type { UpdateInstaller, UpdateOutcome } from './installer.js';

export const BUNDLE_SUFFIX = '.wpupdate';
export const LAST_RESULT_FILE = 'last-result.json';

export interface InboxResult {
  file: string;
  result: UpdateOutcome;
}

export async function processInbox(
  inbox: string,
  installer: UpdateInstaller,
  opts: { now?: () => number } = {},
): Promise<InboxResult[]> {
  const now = opts.now ?? Date.now;
  let names: string[];
  try {
    names = readdirSync(inbox)
      .filter((n) => n.endsWith(BUNDLE_SUFFIX))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const results: InboxResult[] = [];
  for (const name of names) {
    const file = path.join(inbox, name);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } finally {
      rmSync(file, { force: true });
    }
    const result = await installer.install(bytes);
    results.push({ file: name, result });
  }
  if (results.length > 0) {
    const out = path.join(inbox, LAST_RESULT_FILE);
    writeFileAtomic(out, `${JSON.stringify({ at: now(), results }, null, 2)}\n`, 0o644);
    // Written by root into the agent's directory: give it to the directory's owner so the agent
    // can read and replace it.
    try {
      const st = statSync(inbox);
      chownSync(out, st.uid, st.gid);
    } catch {
      // Not root (tests, manual runs): the file is already ours.
    }
  }
  return results;
}
