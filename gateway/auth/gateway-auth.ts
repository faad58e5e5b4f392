import type { JetStreamClient } from "@nats-io/jetstream";
import { type ConfigField, parsers } from "../../lib/config/config.ts";
import { ApiKeyAuth } from "./api-key-auth.ts";
import { ApiKeyAdmin, ApiKeyDirectory, openApiKeyBucket } from "./api-key-store.ts";
import { EventTokens, parseEventTokenKeys } from "./event-token.ts";
import { parseRateLimits, type RoleRateLimits } from "./rate-limiter.ts";

/** The trust settings of a gateway process (loadConfig). */
export const authConfig = {
  eventTokenKeys: {
    env: "EVENT_TOKEN_KEYS",
    default: "",
    parse: (raw: string) => {
      parseEventTokenKeys(raw);
      return raw;
    },
    help: "event token keys shared by every gateway, kid:base64url-secret[,kid:secret] (the first signs; each >= 32 bytes); required",
  },
  eventTokenTtlSeconds: {
    env: "EVENT_TOKEN_TTL_S",
    default: 86_400,
    parse: parsers.int(60, 30 * 86_400),
    help: "how long an ad's event token is valid after the decision",
  },
  rateLimits: {
    env: "API_RATE_LIMITS",
    default: "",
    parse: (raw: string) => {
      parseRateLimits(raw);
      return raw;
    },
    help: "per-key token buckets by role, e.g. decide=5000:10000,advertiser=20:40 (calls per second : burst; 0 = unlimited)",
  },
  reflectionNeedsKey: {
    env: "GATEWAY_REFLECTION_REQUIRES_KEY",
    default: false,
    parse: parsers.bool,
    help: "answer server reflection only to callers with an API key",
  },
} satisfies Record<string, ConfigField<unknown>>;

export interface GatewayAuth {
  auth: ApiKeyAuth;
  apiKeys: { directory: ApiKeyDirectory; admin: ApiKeyAdmin };
  eventTokens: EventTokens;
  close(): void;
}

/** Opens the key bucket (loaded before the first call is served) and builds the gateway's trust objects. */
export async function openGatewayAuth(
  js: JetStreamClient,
  settings: {
    eventTokenKeys: string;
    eventTokenTtlSeconds?: number;
    rateLimits?: string | RoleRateLimits;
    reflectionNeedsKey?: boolean;
  },
): Promise<GatewayAuth> {
  if (!settings.eventTokenKeys)
    throw new Error("EVENT_TOKEN_KEYS is required (npm start generates one into .data/credentials.env)");
  const kv = await openApiKeyBucket(js);
  const directory = await ApiKeyDirectory.open(kv);
  const rateLimits =
    typeof settings.rateLimits === "object" ? settings.rateLimits : parseRateLimits(settings.rateLimits ?? "");
  return {
    auth: new ApiKeyAuth(directory, { rateLimits, reflectionNeedsKey: settings.reflectionNeedsKey }),
    apiKeys: { directory, admin: new ApiKeyAdmin(kv) },
    eventTokens: new EventTokens(
      parseEventTokenKeys(settings.eventTokenKeys),
      (settings.eventTokenTtlSeconds ?? authConfig.eventTokenTtlSeconds.default) * 1000,
    ),
    close: () => directory.close(),
  };
}
