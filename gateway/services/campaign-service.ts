import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ArchiveAdvertiserResponseSchema,
  ArchiveCampaignResponseSchema,
  ArchiveCreativeResponseSchema,
  type CampaignService,
  CreateAdvertiserResponseSchema,
  CreateCampaignResponseSchema,
  CreateCreativeResponseSchema,
  EntityStatus,
  GetAdvertiserResponseSchema,
  GetCampaignResponseSchema,
  GetCreativeResponseSchema,
  ListAdvertisersResponseSchema,
  ListCampaignsResponseSchema,
  ListCreativesResponseSchema,
  UpdateAdvertiserResponseSchema,
  UpdateCampaignResponseSchema,
  UpdateCreativeResponseSchema,
} from "../../gen/chorus/v1/campaign_pb.ts";
import type { EntityKind } from "../../lib/catalog/catalog-keys.ts";
import type { CatalogStore } from "../../lib/catalog/catalog-store.ts";
import type { Principal } from "../auth/api-key.ts";
import { principalKey } from "../auth/api-key-auth.ts";
import type { Call, ServiceHandlers } from "../server/service-impl.ts";
import { checkCreativeUrls } from "./creative-urls.ts";

export interface CampaignServiceOptions {
  /** Creative URLs may be http as well as https (development only). */
  allowHttpUrls?: boolean;
}

/**
 * chorus.v1.CampaignService over the CatalogStore (JetStream KV, optimistic concurrency: a stale
 * expected_revision is ABORTED and nothing is written). Requests arrive authenticated (the access policy has let
 * the role call the method) and validated by protovalidate; the store's ConnectErrors (NOT_FOUND,
 * ALREADY_EXISTS, ABORTED) pass through. A campaign's advertiser and a creative's campaign must exist
 * (FAILED_PRECONDITION), so the catalog never holds orphans.
 *
 * Tenancy: an advertiser key reaches only its own advertiser, its campaigns and their creatives. Every check runs
 * before any write, on the stored entity as well as on the new one (a campaign cannot be moved to or from another
 * advertiser): PERMISSION_DENIED, nothing changed. Lists return only what the key may see.
 */
export function campaignHandlers(
  store: CatalogStore,
  options: CampaignServiceOptions = {},
): ServiceHandlers<typeof CampaignService> {
  const allowHttp = options.allowHttpUrls ?? false;
  const requireParent = async (kind: EntityKind, id: string, field: string) => {
    if (!(await store.find(kind, id)))
      throw new ConnectError(`${field}: ${kind} "${id}" does not exist`, Code.FailedPrecondition);
  };
  /** The advertiser a tenant-scoped caller is limited to; undefined for admin and reader keys. */
  const tenantOf = (call: Call): string | undefined => {
    const p: Principal | undefined = call.values.get(principalKey);
    return p?.role === "advertiser" ? (p.advertiserId ?? "\u0000none") : undefined;
  };
  const deny = (what: string) => new ConnectError(`this API key may not access ${what}`, Code.PermissionDenied);
  const ownAdvertiser = (tenant: string | undefined, id: string) => {
    if (tenant !== undefined && id !== tenant) throw deny(`advertiser "${id}"`);
  };
  /** The campaign's advertiser must be the tenant's; a campaign that does not exist is left to the store. */
  const ownCampaign = async (tenant: string | undefined, id: string) => {
    if (tenant === undefined) return;
    const campaign = await store.find("campaign", id);
    if (campaign && campaign.advertiserId !== tenant) throw deny(`campaign "${id}"`);
  };
  const ownCreative = async (tenant: string | undefined, id: string) => {
    if (tenant === undefined) return;
    const creative = await store.find("creative", id);
    if (creative) await ownCampaignStrict(tenant, creative.campaignId, `creative "${id}"`);
  };
  const ownCampaignStrict = async (tenant: string, campaignId: string, what: string) => {
    const campaign = await store.find("campaign", campaignId);
    if (!campaign || campaign.advertiserId !== tenant) throw deny(what);
  };
  return {
    createAdvertiser: async ({ advertiser }) =>
      create(CreateAdvertiserResponseSchema, { advertiser: await store.create("advertiser", advertiser!) }),
    getAdvertiser: async ({ id }, call) => {
      ownAdvertiser(tenantOf(call), id);
      return create(GetAdvertiserResponseSchema, { advertiser: await store.get("advertiser", id) });
    },
    listAdvertisers: async (request, call) => {
      const tenant = tenantOf(call);
      const { items, nextPageToken } = page(
        await store.list("advertiser"),
        request,
        (a) => tenant === undefined || a.id === tenant,
      );
      return create(ListAdvertisersResponseSchema, { advertisers: items, nextPageToken });
    },
    updateAdvertiser: async ({ advertiser, expectedRevision }, call) => {
      ownAdvertiser(tenantOf(call), advertiser!.id);
      return create(UpdateAdvertiserResponseSchema, {
        advertiser: await store.update("advertiser", advertiser!, expectedRevision),
      });
    },
    archiveAdvertiser: async ({ id, expectedRevision }) =>
      create(ArchiveAdvertiserResponseSchema, { advertiser: await store.archive("advertiser", id, expectedRevision) }),

    createCampaign: async ({ campaign }, call) => {
      ownAdvertiser(tenantOf(call), campaign!.advertiserId);
      await requireParent("advertiser", campaign!.advertiserId, "campaign.advertiser_id");
      return create(CreateCampaignResponseSchema, { campaign: await store.create("campaign", campaign!) });
    },
    getCampaign: async ({ id }, call) => {
      await ownCampaign(tenantOf(call), id);
      return create(GetCampaignResponseSchema, { campaign: await store.get("campaign", id) });
    },
    listCampaigns: async (request, call) => {
      const tenant = tenantOf(call);
      const { items, nextPageToken } = page(
        await store.list("campaign"),
        request,
        (c) =>
          (!request.parentId || c.advertiserId === request.parentId) &&
          (tenant === undefined || c.advertiserId === tenant),
      );
      return create(ListCampaignsResponseSchema, { campaigns: items, nextPageToken });
    },
    updateCampaign: async ({ campaign, expectedRevision }, call) => {
      const tenant = tenantOf(call);
      ownAdvertiser(tenant, campaign!.advertiserId);
      await ownCampaign(tenant, campaign!.id);
      await requireParent("advertiser", campaign!.advertiserId, "campaign.advertiser_id");
      return create(UpdateCampaignResponseSchema, {
        campaign: await store.update("campaign", campaign!, expectedRevision),
      });
    },
    archiveCampaign: async ({ id, expectedRevision }, call) => {
      await ownCampaign(tenantOf(call), id);
      return create(ArchiveCampaignResponseSchema, { campaign: await store.archive("campaign", id, expectedRevision) });
    },

    createCreative: async ({ creative }, call) => {
      const tenant = tenantOf(call);
      if (tenant !== undefined)
        await ownCampaignStrict(tenant, creative!.campaignId, `campaign "${creative!.campaignId}"`);
      checkCreativeUrls(creative!, allowHttp);
      await requireParent("campaign", creative!.campaignId, "creative.campaign_id");
      return create(CreateCreativeResponseSchema, { creative: await store.create("creative", creative!) });
    },
    getCreative: async ({ id }, call) => {
      await ownCreative(tenantOf(call), id);
      return create(GetCreativeResponseSchema, { creative: await store.get("creative", id) });
    },
    listCreatives: async (request, call) => {
      const tenant = tenantOf(call);
      const own =
        tenant === undefined
          ? undefined
          : new Set((await store.list("campaign")).filter((c) => c.advertiserId === tenant).map((c) => c.id));
      const { items, nextPageToken } = page(
        await store.list("creative"),
        request,
        (c) => (!request.parentId || c.campaignId === request.parentId) && (own === undefined || own.has(c.campaignId)),
      );
      return create(ListCreativesResponseSchema, { creatives: items, nextPageToken });
    },
    updateCreative: async ({ creative, expectedRevision }, call) => {
      const tenant = tenantOf(call);
      if (tenant !== undefined)
        await ownCampaignStrict(tenant, creative!.campaignId, `campaign "${creative!.campaignId}"`);
      await ownCreative(tenant, creative!.id);
      checkCreativeUrls(creative!, allowHttp);
      await requireParent("campaign", creative!.campaignId, "creative.campaign_id");
      return create(UpdateCreativeResponseSchema, {
        creative: await store.update("creative", creative!, expectedRevision),
      });
    },
    archiveCreative: async ({ id, expectedRevision }, call) => {
      await ownCreative(tenantOf(call), id);
      return create(ArchiveCreativeResponseSchema, { creative: await store.archive("creative", id, expectedRevision) });
    },
  };
}

interface PageRequest {
  includeArchived: boolean;
  pageSize: number;
  pageToken: string;
}

/**
 * One page of a list sorted by id. The page token is the last id served (base64url), so a page is stable while
 * entities are added or removed elsewhere in the list.
 */
function page<T extends { id: string; status: EntityStatus }>(
  sorted: readonly T[],
  { includeArchived, pageSize, pageToken }: PageRequest,
  filter: (item: T) => boolean,
): { items: T[]; nextPageToken: string } {
  const after = pageToken ? Buffer.from(pageToken, "base64url").toString("utf8") : "";
  if (pageToken && Buffer.from(after, "utf8").toString("base64url") !== pageToken)
    throw new ConnectError("page_token: not a token from a previous response", Code.InvalidArgument);
  const size = pageSize || 100;
  const matching = sorted.filter(
    (item) => item.id > after && (includeArchived || item.status !== EntityStatus.ARCHIVED) && filter(item),
  );
  const items = matching.slice(0, size);
  const nextPageToken = matching.length > size ? Buffer.from(items[items.length - 1]!.id).toString("base64url") : "";
  return { items, nextPageToken };
}
