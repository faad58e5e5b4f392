import type { Interceptor } from "@connectrpc/connect";

/** A client interceptor sending `authorization: Bearer <key>` on every call (connect-es transports). */
export function withApiKey(key: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${key}`);
    return next(request);
  };
}

/** The header itself, for raw HTTP/2 clients and fetch. */
export function bearer(key: string): { authorization: string } {
  return { authorization: `Bearer ${key}` };
}
