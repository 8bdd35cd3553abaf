// Saving a config: the new text is validated first and only a valid one is written, atomically,
// so neither a typo nor a power cut can leave the router without a loadable config.

import { writeFileAtomic } from '../os/files.js';
import { parseConfig, type LocatedIssue } from './load.js';

export class ConfigRejected extends Error {
  constructor(readonly issues: LocatedIssue[]) {
    super(`config rejected: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}

export async function saveConfigText(path: string, text: string): Promise<void> {
  const result = parseConfig(text);
  if (!result.ok) throw new ConfigRejected(result.issues);
  await writeFileAtomic(path, text, 0o600);
}
