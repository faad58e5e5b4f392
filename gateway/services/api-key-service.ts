import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type ApiKey,
  ApiKeyRole,
  ApiKeySchema,
  type ApiKeyService,
  CreateApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  RevokeApiKeyResponseSchema,
} from "../../gen/chorus/v1/api_key_pb.ts";
import type { CatalogStore } from "../../lib/catalog/catalog-store.ts";
import type { ApiKeyRecord, Role } from "../auth/api-key.ts";
import type { ApiKeyAdmin, ApiKeyDirectory } from "../auth/api-key-store.ts";
import type { ServiceHandlers } from "../server/service-impl.ts";

const roleOf: Record<ApiKeyRole, Role | undefined> = {
  [ApiKeyRole.UNSPECIFIED]: undefined,
  [ApiKeyRole.DECIDE]: "decide",
  [ApiKeyRole.ADVERTISER]: "advertiser",
  [ApiKeyRole.READER]: "reader",
  [ApiKeyRole.ADMIN]: "admin",
};
const roleEnum: Record<Role, ApiKeyRole> = {
  decide: ApiKeyRole.DECIDE,
  advertiser: ApiKeyRole.ADVERTISER,
  reader: ApiKeyRole.READER,
  admin: ApiKeyRole.ADMIN,
};

export function toApiKey(r: ApiKeyRecord): ApiKey {
  return create(ApiKeySchema, {
    id: r.id,
    name: r.name,
    role: roleEnum[r.role],
    advertiserId: r.advertiserId ?? "",
    createdAt: timestampFromDate(new Date(r.createdAt)),
    revokedAt: r.revokedAt ? timestampFromDate(new Date(r.revokedAt)) : undefined,
    ratePerSecond: r.rateLimit?.perSecond ?? 0,
    rateBurst: r.rateLimit?.burst ?? 0,
  });
}

/**
 * chorus.v1.ApiKeyService (admin keys only, enforced by the access policy): key management without NATS access.
 * The secret is in the CreateApiKey response only; the bucket keeps its hash.
 */
export function apiKeyHandlers(
  admin: ApiKeyAdmin,
  directory: ApiKeyDirectory,
  catalog: CatalogStore,
): ServiceHandlers<typeof ApiKeyService> {
  return {
    createApiKey: async (request) => {
      const role = roleOf[request.role]!;
      if (role === "advertiser" && !(await catalog.find("advertiser", request.advertiserId)))
        throw new ConnectError(
          `advertiser_id: advertiser "${request.advertiserId}" does not exist`,
          Code.FailedPrecondition,
        );
      const perSecond = request.ratePerSecond;
      const { record, key } = await admin.create({
        name: request.name,
        role,
        advertiserId: request.advertiserId || undefined,
        rateLimit: perSecond > 0 ? { perSecond, burst: request.rateBurst || perSecond * 2 } : undefined,
      });
      return create(CreateApiKeyResponseSchema, { key: toApiKey(record), secretKey: key });
    },
    listApiKeys: async ({ includeRevoked }) =>
      create(ListApiKeysResponseSchema, {
        keys: directory
          .list()
          .filter((r) => includeRevoked || !r.revokedAt)
          .map(toApiKey),
      }),
    revokeApiKey: async ({ id }) => {
      const record = await admin.revoke(id);
      if (!record) throw new ConnectError(`id: no API key "${id}"`, Code.NotFound);
      return create(RevokeApiKeyResponseSchema, { key: toApiKey(record) });
    },
  };
}
