/**
 * The one equivalence spec of the hand-written codecs: every codec in the registry against @bufbuild/protobuf, on
 * random messages of its schema (every field, edge values, nested messages). Encoders must write toBinary's exact
 * bytes; decoders must read the message fromBinary reads (compared by its toBinary bytes, so NaN and -0 count).
 * A codec added to the registry is checked here without a new spec; a field added to a message is generated
 * here and fails the codec until the codec writes it.
 */
import { type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CODECS, decodeMessage, encodeMessage } from "./registry.ts";
import { randomMessage } from "./testing/random-message.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("codecs - every hand-written codec against toBinary/fromBinary", () => {
  it("the registry holds each message once, each with at least one direction", () => {
    const names = CODECS.map((c) => c.schema.typeName);
    expect(new Set(names).size).toBe(names.length);
    for (const c of CODECS) expect(c.encode ?? c.decode, c.schema.typeName).toBeDefined();
  });

  for (const c of CODECS) {
    const name = c.schema.typeName;
    if (c.encode) {
      it(`${name}: the encoder writes toBinary's bytes`, () => {
        fc.assert(
          fc.property(randomMessage(c.schema as DescMessage), (m) => {
            expect(hex(c.encode!(m))).toBe(hex(toBinary(c.schema, m)));
            expect(hex(encodeMessage(c.schema, m))).toBe(hex(toBinary(c.schema, m)));
          }),
          { numRuns: 300 },
        );
      });
    }
    if (c.decode) {
      it(`${name}: the decoder reads what fromBinary reads`, () => {
        fc.assert(
          fc.property(randomMessage(c.schema as DescMessage), (m) => {
            const bytes = toBinary(c.schema, m);
            const expected = hex(toBinary(c.schema, fromBinary(c.schema, bytes)));
            expect(hex(toBinary(c.schema, c.decode!(bytes)))).toBe(expected);
            expect(hex(toBinary(c.schema, decodeMessage(c.schema, bytes)))).toBe(expected);
          }),
          { numRuns: 300 },
        );
      });
    }
  }
});
