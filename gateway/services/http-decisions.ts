import { Code, ConnectError } from "@connectrpc/connect";
import type { ApiKeyAuth } from "../auth/api-key-auth.ts";
import type { EventTokens } from "../auth/event-token.ts";
import type { DecisionEngine, HttpDecisions } from "../server/ports.ts";
import { signAds } from "./decision-service.ts";
import type { IdempotentDecisions } from "./idempotent-decisions.ts";

/** The Decide RPC's rules for VAST and OpenRTB callers: same roles, rate limits, idempotency and event tokens. */
export function httpDecisions(options: {
  auth: ApiKeyAuth;
  engine: DecisionEngine;
  eventTokens: EventTokens;
  idempotency: IdempotentDecisions;
}): HttpDecisions {
  const { auth, engine, eventTokens, idempotency } = options;
  return {
    authorize(authorization) {
      const principal = auth.authenticate(authorization);
      if (principal.role !== "decide" && principal.role !== "admin")
        throw new ConnectError(`an API key with role "${principal.role}" may not ask for ads`, Code.PermissionDenied);
      auth.admit(principal);
      return principal;
    },
    decide: (caller, request, signal) =>
      idempotency.run(caller.keyId, request.requestId, async () =>
        signAds(await engine.decide(request, { signal }), eventTokens),
      ),
  };
}
