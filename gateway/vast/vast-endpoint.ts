import { Code, ConnectError } from "@connectrpc/connect";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { clientGone, type HttpEndpoint, HttpError, header, sendBody } from "../server/http-endpoints.ts";
import type { HttpDecisions } from "../server/ports.ts";
import type { RequestValidator } from "../server/request-validator.ts";
import { noFillReasonName, VAST_CONTENT_TYPE, type VastOptions, vastDocument } from "./vast-document.ts";
import { decideRequestFromQuery, QUERY_OF_FIELD } from "./vast-request.ts";

export const VAST_PATH = "/vast/v4";

export interface VastEndpointOptions extends VastOptions {
  decisions: HttpDecisions;
  validate: RequestValidator;
}

/**
 * GET /vast/v4?break=mid&max_duration=60&max_ads=3&user=...&device=phone&...: decides the break and answers the
 * pod as a VAST 4.2 document (an empty VAST when nothing fills). Bad parameters are a 400 naming the parameter.
 */
export function vastEndpoint(options: VastEndpointOptions): HttpEndpoint {
  return {
    method: "GET",
    path: VAST_PATH,
    async handle(req, res, url) {
      // The key first: an unauthenticated caller learns nothing about the parameters either.
      const caller = options.decisions.authorize(header(req.headers, "authorization"));
      const request = decideRequestFromQuery(url.searchParams);
      try {
        options.validate(DecideRequestSchema, request);
      } catch (err) {
        if (err instanceof ConnectError && err.code === Code.InvalidArgument)
          throw new HttpError(400, queryNames(err.rawMessage));
        throw err;
      }
      const response = await options.decisions.decide(caller, request, clientGone(req, res));
      const headers: Record<string, string> = {
        "x-chorus-decision-id": response.decisionId,
        // Web players fetch VAST cross-origin.
        "access-control-allow-origin": "*",
        "access-control-expose-headers": "x-chorus-decision-id, x-chorus-no-fill",
      };
      if (response.ads.length === 0) headers["x-chorus-no-fill"] = noFillReasonName(response.noFillReason);
      sendBody(res, 200, VAST_CONTENT_TYPE, vastDocument(response, options), headers);
    },
  };
}

/** "placement.max_ads: value must be ..." -> "max_ads: value must be ..." for the fields a query sets. */
function queryNames(message: string): string {
  return message
    .split("; ")
    .map((part) => {
      const field = part.slice(0, part.indexOf(":"));
      const query = QUERY_OF_FIELD[field.replace(/\[\d+\]$/, "")];
      return query ? `${query}${part.slice(field.length)}` : part;
    })
    .join("; ");
}
