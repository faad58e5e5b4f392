import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";

/**
 * Makes protobuf-es encode and decode UTF-8 strings with node's Buffer instead of TextEncoder/TextDecoder.
 *
 * Why: protobuf-es calls the text codec once per string field, and on node 20 TextEncoder.encode and
 * TextDecoder.decode cost about a microsecond for a short string (a call into C++ and a fresh Uint8Array) against
 * a few hundred nanoseconds for Buffer.from / toString. A 3-ad DecideResponse has ~35 strings: its toBinary went
 * from ~86 to ~34 microseconds (bench/gateway/README.md). The results are identical: both encoders replace lone
 * surrogates, and both decoders replace invalid sequences, with U+FFFD. The setting is process-wide and
 * idempotent; strict UTF-8 checks (checkUtf8) keep protobuf-es's own implementation.
 */
export function useBufferTextEncoding(): void {
  configureTextEncoding({
    ...getTextEncoding(),
    encodeUtf8: (text) => Buffer.from(text, "utf8"),
    decodeUtf8: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"),
  });
}
