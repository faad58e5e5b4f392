import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

/**
 * connect-node's fallback for paths no service serves. gRPC and gRPC-Web clients get the status the gRPC spec
 * asks for (HTTP 200, grpc-status 12 UNIMPLEMENTED, trailers-only); everyone else gets 404, as Connect specifies.
 */
export const unknownMethod: NonNullable<ConnectNodeAdapterOptions["fallback"]> = (req, res) => {
  const contentType = req.headers["content-type"] ?? "";
  const message = encodeURIComponent(`unknown method ${req.url}`);
  if (contentType.startsWith("application/grpc")) {
    const headers = { "content-type": contentType, "grpc-status": "12", "grpc-message": message };
    // Over HTTP/2 a true trailers-only response (END_STREAM on HEADERS); gRPC-Web over HTTP/1.1 reads headers.
    if ("stream" in req && !req.stream.headersSent)
      req.stream.respond({ ":status": 200, ...headers }, { endStream: true });
    else {
      res.writeHead(200, headers);
      res.end();
    }
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("404 page not found\n");
};
