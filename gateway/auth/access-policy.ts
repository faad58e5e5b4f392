import type { Role } from "./api-key.ts";

const DECISION = "chorus.v1.DecisionService";
const CAMPAIGN = "chorus.v1.CampaignService";
const API_KEYS = "chorus.v1.ApiKeyService";

/** Procedures anyone may call: load balancers and orchestrators probe health without credentials. */
const OPEN_SERVICES = new Set(["grpc.health.v1.Health"]);
const REFLECTION_SERVICES = new Set([
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

/** Methods an advertiser key may not call at all (creating or archiving advertisers is the operator's job). */
const ADVERTISER_DENIED = new Set(["CreateAdvertiser", "ArchiveAdvertiser"]);

/** Splits "/pkg.Service/Method" (or "pkg.Service/Method"). */
export function splitProcedure(procedure: string): { service: string; method: string } {
  const p = procedure.startsWith("/") ? procedure.slice(1) : procedure;
  const slash = p.indexOf("/");
  return slash < 0 ? { service: p, method: "" } : { service: p.slice(0, slash), method: p.slice(slash + 1) };
}

export type Access = "open" | "key";

/** Whether a procedure needs a key at all. */
export function accessOf(procedure: string, reflectionNeedsKey: boolean): Access {
  const { service } = splitProcedure(procedure);
  if (OPEN_SERVICES.has(service)) return "open";
  if (REFLECTION_SERVICES.has(service)) return reflectionNeedsKey ? "key" : "open";
  return "key";
}

/**
 * Whether a role may call a procedure at all. Tenancy (an advertiser key touching only its own advertiser's
 * campaigns and creatives) is checked by the CampaignService handlers, which see the entities.
 */
export function roleAllows(role: Role, procedure: string): boolean {
  const { service, method } = splitProcedure(procedure);
  if (role === "admin") return true;
  if (REFLECTION_SERVICES.has(service)) return true;
  switch (service) {
    case DECISION:
      // Advertisers may run a Decide with explain to see how their own campaigns fare (lines of others are hidden).
      return role === "decide" || (role === "advertiser" && method === "Decide");
    case CAMPAIGN:
      if (role === "reader") return method.startsWith("Get") || method.startsWith("List");
      if (role === "advertiser") return !ADVERTISER_DENIED.has(method);
      return false;
    case API_KEYS:
      return false;
    default:
      return false;
  }
}
