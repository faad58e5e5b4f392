import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError } from "../config/config.ts";
import { Pseudonyms } from "./pseudonyms.ts";

/**
 * The pseudonym key from the environment: `CHORUS_PSEUDONYM_KEY_FILE` (a file holding it, e.g. a mounted secret)
 * or `CHORUS_PSEUDONYM_SALT` (the key itself). Required: a gateway without it would put raw ids on the bus or, with
 * a key of its own, pseudonyms no other gateway shares.
 */
export function pseudonymsFromEnv(env: NodeJS.ProcessEnv = process.env): Pseudonyms {
  const file = env.CHORUS_PSEUDONYM_KEY_FILE;
  let key: string | undefined;
  try {
    key = file ? readFileSync(file, "utf8").trim() : env.CHORUS_PSEUDONYM_SALT;
  } catch (err) {
    throw new ConfigError([`CHORUS_PSEUDONYM_KEY_FILE=${file}: ${(err as Error).message}`]);
  }
  if (!key)
    throw new ConfigError([
      "CHORUS_PSEUDONYM_KEY_FILE or CHORUS_PSEUDONYM_SALT is required: the secret key of the HMAC that replaces " +
        "user and session ids before they reach NATS (the same on every gateway; npm start generates one in .data)",
    ]);
  try {
    return new Pseudonyms(key);
  } catch (err) {
    throw new ConfigError([`pseudonym key: ${(err as Error).message}`]);
  }
}

/** The key file `npm start` keeps (created with 32 random bytes, mode 0600, on first use). */
export function ensurePseudonymKeyFile(path: string): string {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  }
  chmodSync(path, 0o600);
  return path;
}
