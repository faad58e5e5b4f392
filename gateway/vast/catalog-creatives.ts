import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import type { CreativeLookup } from "./vast-document.ts";

/** Creative details for VAST from the live catalog (MIME type, size, creative and advertiser names). */
export function catalogCreatives(view: CatalogView): CreativeLookup {
  return (id) => {
    const candidate = view.inventory.byCreativeId(id);
    if (!candidate) return undefined;
    const { creative, advertiser } = candidate;
    return {
      mimeType: creative.mimeType,
      width: creative.width,
      height: creative.height,
      title: creative.name,
      advertiser: advertiser?.name,
    };
  };
}
