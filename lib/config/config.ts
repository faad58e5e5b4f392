import { readFileSync } from "node:fs";

/**
 * Configuration from environment variables, with an optional JSON file (CHORUS_CONFIG=path) underneath:
 * environment wins over the file, the file over defaults. Everything is validated at start and every problem is
 * reported at once, naming the variable.
 */
export interface ConfigField<T> {
  env: string;
  default: T;
  parse: (raw: string) => T;
  help: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

export const parsers = {
  string: (raw: string) => raw,
  port: (raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error("must be a port number (0-65535)");
    return n;
  },
  int: (min: number, max: number) => (raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`must be an integer from ${min} to ${max}`);
    return n;
  },
  oneOf:
    <const T extends string>(...values: T[]) =>
    (raw: string): T => {
      if (!(values as string[]).includes(raw)) throw new Error(`must be one of ${values.join(", ")}`);
      return raw as T;
    },
  list: (raw: string) =>
    raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  bool: (raw: string) => {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new Error("must be true or false");
  },
};

export type ConfigOf<S extends Record<string, ConfigField<unknown>>> = { [K in keyof S]: S[K]["default"] };

export function loadConfig<S extends Record<string, ConfigField<unknown>>>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<S> {
  const problems: string[] = [];
  let file: Record<string, unknown> = {};
  if (env.CHORUS_CONFIG) {
    try {
      file = JSON.parse(readFileSync(env.CHORUS_CONFIG, "utf8")) as Record<string, unknown>;
    } catch (err) {
      problems.push(`CHORUS_CONFIG=${env.CHORUS_CONFIG}: ${(err as Error).message}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    const raw = env[field.env] ?? (file[field.env] === undefined ? undefined : String(file[field.env]));
    if (raw === undefined || raw === "") {
      out[key] = field.default;
      continue;
    }
    try {
      out[key] = field.parse(raw);
    } catch (err) {
      problems.push(`${field.env}=${JSON.stringify(raw)}: ${(err as Error).message} (${field.help})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}
