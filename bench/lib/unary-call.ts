import { countField2 } from "./count-ads.ts";
import type { Done } from "./open-loop.ts";
import type { StreamHandler } from "./raw-http2-connection.ts";

/**
 * One unary RPC on a raw HTTP/2 stream, judged as http2-unary-sender.ts judges it (the same error names, the same
 * ad count): gRPC (status in the trailers, or in trailers-only headers) or Connect (HTTP status).
 */
export class UnaryCall implements StreamHandler {
  private status = 0;
  private grpcStatus: string | undefined;
  /** The response body's frames, when its ads are counted. */
  private readonly chunks: Buffer[] | undefined;

  constructor(
    private readonly done: Done,
    private readonly grpc: boolean,
    countAds: boolean,
    /** Given the response message of each answer that sold (ads counted), e.g. for the events that follow it. */
    private readonly onSold?: (message: Buffer) => void,
  ) {
    if (countAds || onSold) this.chunks = [];
  }

  onHeaders(fields: string[]): void {
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      if (name === ":status") this.status = Number(fields[i + 1]);
      else if (name === "grpc-status") this.grpcStatus = fields[i + 1];
    }
  }

  onData(bytes: Buffer, start: number, end: number): void {
    this.chunks?.push(Buffer.from(bytes.subarray(start, end)));
  }

  onClose(error: string | undefined): void {
    let reason = error;
    if (reason === undefined && this.status !== 200) reason = `http ${this.status}`;
    else if (reason === undefined && this.grpc && this.grpcStatus !== "0")
      reason = `grpc-status ${this.grpcStatus ?? "missing"}`;
    if (reason !== undefined) this.done(reason, 0);
    else if (!this.chunks) this.done(undefined, -1);
    else {
      const chunks = this.chunks;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const prefix = this.grpc ? 5 : 0;
      const ads = countField2(body, prefix);
      if (ads > 0) this.onSold?.(body.subarray(prefix));
      this.done(undefined, ads);
    }
  }
}
