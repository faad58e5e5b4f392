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
import type { ServiceHandlers } from "../server/service-impl.ts";

/**
 * chorus.v1.CampaignService over the CatalogStore (JetStream KV, optimistic concurrency: a stale
 * expected_revision is ABORTED and nothing is written). Requests arrive validated by protovalidate; the store's
 * ConnectErrors (NOT_FOUND, ALREADY_EXISTS, ABORTED) pass through. A campaign's advertiser and a creative's
 * campaign must exist (FAILED_PRECONDITION), so the catalog never holds orphans.
 */
export function campaignHandlers(store: CatalogStore): ServiceHandlers<typeof CampaignService> {
  const requireParent = async (kind: EntityKind, id: string, field: string) => {
    if (!(await store.find(kind, id)))
      throw new ConnectError(`${field}: ${kind} "${id}" does not exist`, Code.FailedPrecondition);
  };
  return {
    createAdvertiser: async ({ advertiser }) =>
      create(CreateAdvertiserResponseSchema, { advertiser: await store.create("advertiser", advertiser!) }),
    getAdvertiser: async ({ id }) =>
      create(GetAdvertiserResponseSchema, { advertiser: await store.get("advertiser", id) }),
    listAdvertisers: async (request) => {
      const { items, nextPageToken } = page(await store.list("advertiser"), request, () => true);
      return create(ListAdvertisersResponseSchema, { advertisers: items, nextPageToken });
    },
    updateAdvertiser: async ({ advertiser, expectedRevision }) =>
      create(UpdateAdvertiserResponseSchema, {
        advertiser: await store.update("advertiser", advertiser!, expectedRevision),
      }),
    archiveAdvertiser: async ({ id, expectedRevision }) =>
      create(ArchiveAdvertiserResponseSchema, { advertiser: await store.archive("advertiser", id, expectedRevision) }),

    createCampaign: async ({ campaign }) => {
      await requireParent("advertiser", campaign!.advertiserId, "campaign.advertiser_id");
      return create(CreateCampaignResponseSchema, { campaign: await store.create("campaign", campaign!) });
    },
    getCampaign: async ({ id }) => create(GetCampaignResponseSchema, { campaign: await store.get("campaign", id) }),
    listCampaigns: async (request) => {
      const { items, nextPageToken } = page(
        await store.list("campaign"),
        request,
        (c) => !request.parentId || c.advertiserId === request.parentId,
      );
      return create(ListCampaignsResponseSchema, { campaigns: items, nextPageToken });
    },
    updateCampaign: async ({ campaign, expectedRevision }) => {
      await requireParent("advertiser", campaign!.advertiserId, "campaign.advertiser_id");
      return create(UpdateCampaignResponseSchema, {
        campaign: await store.update("campaign", campaign!, expectedRevision),
      });
    },
    archiveCampaign: async ({ id, expectedRevision }) =>
      create(ArchiveCampaignResponseSchema, { campaign: await store.archive("campaign", id, expectedRevision) }),

    createCreative: async ({ creative }) => {
      await requireParent("campaign", creative!.campaignId, "creative.campaign_id");
      return create(CreateCreativeResponseSchema, { creative: await store.create("creative", creative!) });
    },
    getCreative: async ({ id }) => create(GetCreativeResponseSchema, { creative: await store.get("creative", id) }),
    listCreatives: async (request) => {
      const { items, nextPageToken } = page(
        await store.list("creative"),
        request,
        (c) => !request.parentId || c.campaignId === request.parentId,
      );
      return create(ListCreativesResponseSchema, { creatives: items, nextPageToken });
    },
    updateCreative: async ({ creative, expectedRevision }) => {
      await requireParent("campaign", creative!.campaignId, "creative.campaign_id");
      return create(UpdateCreativeResponseSchema, {
        creative: await store.update("creative", creative!, expectedRevision),
      });
    },
    archiveCreative: async ({ id, expectedRevision }) =>
      create(ArchiveCreativeResponseSchema, { creative: await store.archive("creative", id, expectedRevision) }),
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
