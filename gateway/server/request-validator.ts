import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { createValidator, violationsToProto } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";
import { type CompiledRules, compileRules } from "../../lib/validation/compiled-rules.ts";
import { malformedTimestamps } from "../../lib/validation/value-bounds.ts";

/** Throws INVALID_ARGUMENT unless the message satisfies the protovalidate rules its proto carries. */
export type RequestValidator = (schema: DescMessage, message: MessageShape<DescMessage>) => void;

/**
 * One protovalidate validator for the process (it caches a plan per message type). A rejected request gets
 * INVALID_ARGUMENT with a message naming every field (`placement.max_ads: value must be ... [uint32.gte_lte]`)
 * and the violations as a `buf.validate.Violations` error detail, so clients can point at fields programmatically.
 *
 * Timestamps are first checked to be valid at all (google.protobuf.Timestamp's documented range, nanos 0..1e9-1):
 * protovalidate compares malformed ones without complaint, and code after it (dates, int64 ms) then failed with
 * INTERNAL or stored values that later broke agents' snapshots.
 *
 * Messages whose rules compile (DecideRequest among them, see compiled-rules.ts) are checked by the compiled
 * rules first: a valid one (nearly every request) costs a few field reads. Anything they reject goes through
 * protovalidate, which writes the error, so clients see exactly what they saw before.
 */
export function createRequestValidator(): RequestValidator {
  const validator = createValidator();
  const compiled = new Map<DescMessage, CompiledRules | null>();
  return (schema, message) => {
    const malformed = malformedTimestamps(schema, message);
    if (malformed.length > 0) throw new ConnectError(malformed.join("; "), Code.InvalidArgument);
    let rules = compiled.get(schema);
    if (rules === undefined) {
      rules = compileRules(schema) ?? null;
      compiled.set(schema, rules);
    }
    if (rules?.(message)) return;
    const result = validator.validate(schema, message);
    if (result.kind === "valid") return;
    if (result.kind === "error")
      throw new ConnectError("request validation failed", Code.Internal, undefined, undefined, result.error);
    const [violations, desc] = violationsToProto(result.violations);
    throw new ConnectError(result.violations.map((v) => v.toString()).join("; "), Code.InvalidArgument, undefined, [
      { desc, value: violations },
    ]);
  };
}
