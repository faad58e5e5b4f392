import type { ServerHttp2Stream } from "node:http2";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";

/** One wire protocol's half of a unary exchange; the fast path drives it. */
export interface UnaryProtocol {
  /** True when the body is a length-prefixed envelope (5 bytes more than the message). */
  readonly envelope: boolean;
  /** The request header carrying the call's deadline. */
  readonly timeoutHeader: string;
  /** A malformed value is an `error`, answered before the body is read. */
  parseTimeout(value: string | undefined): { timeoutMs?: number; error?: ConnectError };
  /** The message length an envelope announces, once its 5-byte prefix has arrived. */
  messageLength(head: Buffer): number | undefined;
  parse<S extends DescMessage>(schema: S, body: Buffer): MessageShape<S>;
  respond<S extends DescMessage>(stream: ServerHttp2Stream, schema: S, message: MessageShape<S>): void;
  fail(stream: ServerHttp2Stream, error: ConnectError): void;
}
