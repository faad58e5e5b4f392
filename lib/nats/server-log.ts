import { existsSync, readFileSync } from "node:fs";

/** A permission the server refused, as nats-server logs it. */
export interface PermissionViolation {
  /** "Publish" or "Subscription". */
  kind: string;
  /** The client's connection name (Chorus processes name themselves: chorus-gateway, chorus-ledger, ...). */
  client: string;
  subject: string;
}

/**
 * Permission violations in a nats-server log file (`-l`): what the e2e tests assert is empty for a mesh that runs
 * with permissions on, and what a refusal test asserts is there.
 */
export function permissionViolations(logFile: string | undefined): PermissionViolation[] {
  if (!logFile || !existsSync(logFile)) return [];
  const out: PermissionViolation[] = [];
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    const m = /- "(?:[^"]*:)?([^":]*)" - (Publish|Subscription) Violation - .*Subject "([^"]*)"/.exec(line);
    if (m) out.push({ kind: m[2]!, client: m[1]!, subject: m[3]! });
  }
  return out;
}
