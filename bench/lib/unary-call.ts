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
  /** The response body's frames, when its ads are counted and the message did not come whole in one frame. */
  private readonly chunks: Buffer[] | undefined;
  /** Ads of a gRPC message counted where it lay in the read buffer (undefined: not counted there). */
  private counted: number | undefined;
  /** That message's bytes, copied only for `onSold`. */
  private soldMessage: Buffer | undefined;

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
    const chunks = this.chunks;
    if (!chunks) return;
    if (this.counted !== undefined) {
      // More body after one whole message: not a unary answer.
      this.counted = -1;
      this.soldMessage = undefined;
      return;
    }
    // The usual gRPC answer: the whole length-prefixed message in the first DATA frame. Its ads are counted where
    // it lies, without copying the answer first; onSold still gets a copy.
    if (this.grpc && chunks.length === 0 && end - start >= 5 && bytes.readUInt32BE(start + 1) === end - start - 5) {
      this.counted = countField2(bytes, start + 5, end);
      if (this.counted > 0 && this.onSold) this.soldMessage = Buffer.from(bytes.subarray(start + 5, end));
      return;
    }
    chunks.push(Buffer.from(bytes.subarray(start, end)));
  }

  onClose(error: string | undefined): void {
    let reason = error;
    if (reason === undefined && this.status !== 200) reason = `http ${this.status}`;
    else if (reason === undefined && this.grpc && this.grpcStatus !== "0")
      reason = `grpc-status ${this.grpcStatus ?? "missing"}`;
    if (reason !== undefined) this.done(reason, 0);
    else if (!this.chunks) this.done(undefined, -1);
    else if (this.counted !== undefined) {
      if (this.soldMessage) this.onSold?.(this.soldMessage);
      this.done(undefined, this.counted);
    } else {
      const chunks = this.chunks;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const prefix = this.grpc ? 5 : 0;
      const ads = countField2(body, prefix);
      if (ads > 0) this.onSold?.(body.subarray(prefix));
      this.done(undefined, ads);
    }
  }
}
