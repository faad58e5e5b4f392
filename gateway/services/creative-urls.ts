import { Code, ConnectError } from "@connectrpc/connect";
import type { Creative } from "../../gen/chorus/v1/campaign_pb.ts";

const TRACKING_FIELDS = [
  ["impression", "impression"],
  ["start", "start"],
  ["firstQuartile", "first_quartile"],
  ["midpoint", "midpoint"],
  ["thirdQuartile", "third_quartile"],
  ["complete", "complete"],
  ["skip", "skip"],
  ["click", "click"],
] as const;

/**
 * Every URL a player will fetch or open for this creative (media, click, tracking) must be https: a player that
 * follows a javascript:, data: or file: URL from an ad is an attack on the listener, and an http URL leaks the
 * event token and can be rewritten on the way. `allowHttp` (a development setting) admits http too.
 * INVALID_ARGUMENT names the first offending field.
 */
export function checkCreativeUrls(creative: Creative, allowHttp: boolean): void {
  const check = (field: string, value: string) => {
    if (!value) return;
    let scheme: string;
    try {
      scheme = new URL(value).protocol;
    } catch {
      throw new ConnectError(`creative.${field}: not an absolute URL`, Code.InvalidArgument);
    }
    if (scheme === "https:" || (allowHttp && scheme === "http:")) return;
    throw new ConnectError(
      `creative.${field}: scheme "${scheme.replace(/:$/, "")}" is not allowed; use https${allowHttp ? " or http" : ""}`,
      Code.InvalidArgument,
    );
  };
  check("media_url", creative.mediaUrl);
  check("click_url", creative.clickUrl);
  const t = creative.tracking;
  if (!t) return;
  for (const [key, name] of TRACKING_FIELDS)
    for (const [i, url] of t[key].entries()) check(`tracking.${name}[${i}]`, url);
}
