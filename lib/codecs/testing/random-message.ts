/**
 * Random messages of any schema, for checking codecs: every field kind (scalars at their edges, enums, nested
 * messages, lists, maps, oneofs), zero values often (proto3 leaves them out), floats with NaN, infinities and -0.
 */
import { create, type DescField, type DescMessage, type MessageShape, ScalarType } from "@bufbuild/protobuf";
import fc from "fast-check";

const U32 = 2 ** 32 - 1;

function scalar(type: ScalarType): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.DOUBLE:
      return fc.oneof(fc.constant(0), fc.double(), fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY));
    case ScalarType.FLOAT:
      return fc.oneof(fc.constant(0), fc.float(), fc.constantFrom(-0, Number.NaN, Number.NEGATIVE_INFINITY));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(fc.constant(0), fc.integer({ min: 0, max: U32 }));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.oneof(fc.constant(0n), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return fc.oneof(fc.constant(""), fc.string(), fc.constantFrom("cr-1", "ÉS ✓ 🎧", "intent"));
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 24 });
  }
}

function single(field: DescField, depth: number): fc.Arbitrary<unknown> {
  const kind =
    field.fieldKind === "list" ? field.listKind : field.fieldKind === "map" ? field.mapKind : field.fieldKind;
  if (kind === "scalar") return scalar((field as { scalar: ScalarType }).scalar);
  if (kind === "enum") {
    const values = (field as { enum: { values: { number: number }[] } }).enum.values.map((v) => v.number);
    return fc.constantFrom(...values);
  }
  return randomMessage((field as { message: DescMessage }).message, depth + 1);
}

function value(field: DescField, depth: number): fc.Arbitrary<unknown> {
  if (field.fieldKind === "list") {
    const many = field.listKind === "scalar" ? 40 : 4;
    return depth > 2 ? fc.constant([]) : fc.array(single(field, depth), { maxLength: many });
  }
  if (field.fieldKind === "map") {
    if (depth > 2) return fc.constant({});
    const key = scalar(field.mapKey).map(String);
    return fc.dictionary(key, single(field, depth), { maxKeys: 4 });
  }
  if (field.fieldKind === "message") {
    return depth > 2 ? fc.constant(undefined) : fc.option(single(field, depth), { nil: undefined, freq: 3 });
  }
  return single(field, depth);
}

export function randomMessage<S extends DescMessage>(schema: S, depth = 0): fc.Arbitrary<MessageShape<S>> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const member of schema.members) {
    if (member.kind === "oneof") {
      const cases = member.fields.map((f) => value(f, depth).map((v) => ({ case: f.localName, value: v })));
      parts[member.localName] = fc.oneof(fc.constant({ case: undefined }), ...cases);
    } else {
      parts[member.localName] = value(member, depth);
    }
  }
  return fc.record(parts).map((init) => create(schema, init as never));
}
