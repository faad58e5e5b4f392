/**
 * Follows a running process's trusted-keys file (CHORUS_TRUSTED_KEYS): a key added, or an `expires` line set on a
 * key, takes effect within one poll without restarting anything. On a change the verifier gets the new keys and
 * `onChange` runs (each ModuleWatcher verifies its versions again: a version now trusted starts, one whose key now
 * expired is rolled back at the expiry). A file that no longer parses changes nothing: the keys read before stay,
 * and the error is logged (a typo must not silently trust fewer keys, nor more).
 *
 * Taking a key out of the file does not roll back what it signed in the fleet (one host with a stale file must
 * not roll back every process): `chorus modules revoke-key` does that.
 */
import { readFileSync, type Stats, unwatchFile, watchFile } from "node:fs";
import type { Logger } from "../lib/log/logger.ts";
import type { ModuleVerifier } from "./module-verifier.ts";
import { TrustedKeys } from "./signing-keys.ts";

export function followTrustedKeys(
  file: string,
  verifiers: readonly ModuleVerifier[],
  onChange: () => void,
  logger: Logger,
  intervalMs = 2_000,
): () => void {
  if (file === "") return () => {};
  let last = readOrUndefined(file);
  const listener = (current: Stats, previous: Stats) => {
    if (current.mtimeMs === previous.mtimeMs && current.size === previous.size) return;
    const text = readOrUndefined(file);
    if (text === undefined || text === last) return;
    let keys: TrustedKeys;
    try {
      keys = TrustedKeys.parse(text);
    } catch (err) {
      logger.error({ err, file }, "trusted keys file changed but does not parse; the keys read before stay");
      return;
    }
    last = text;
    for (const verifier of verifiers) verifier.useTrustedKeys(keys);
    logger.warn({ file }, "trusted keys file changed: modules are verified again with the new keys");
    onChange();
  };
  watchFile(file, { interval: intervalMs, persistent: false }, listener);
  return () => unwatchFile(file, listener);
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
