import { create, type DescField, type DescMessage, type MessageShape, ScalarType } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator } from "@bufbuild/protovalidate";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as agent from "../../gen/chorus/v1/agent_pb.ts";
import * as agentSignals from "../../gen/chorus/v1/agent_signals_pb.ts";
import * as apiKey from "../../gen/chorus/v1/api_key_pb.ts";
import * as campaign from "../../gen/chorus/v1/campaign_pb.ts";
import * as common from "../../gen/chorus/v1/common_pb.ts";
import * as decisionLog from "../../gen/chorus/v1/decision_log_pb.ts";
import * as decision from "../../gen/chorus/v1/decision_pb.ts";
import * as ledger from "../../gen/chorus/v1/ledger_pb.ts";
import * as privacy from "../../gen/chorus/v1/privacy_pb.ts";
import { demoRequest } from "../demo/demo-request.ts";
import { compileRules, type RuleViolation } from "./compiled-rules.ts";

const protovalidate = createValidator();

/** protovalidate's verdict in the compiled rules' terms: undefined when valid, else the violations in order. */
function reference(schema: DescMessage, message: MessageShape<DescMessage>): RuleViolation[] | undefined {
  const result = protovalidate.validate(schema, message);
  if (result.kind === "valid") return undefined;
  if (result.kind === "error") throw result.error;
  return result.violations.map((v) => ({ path: pathToString(v.field), ruleId: v.ruleId }));
}

function compiled(schema: DescMessage, message: unknown): RuleViolation[] | undefined {
  const rules = compileRules(schema)!;
  const out: RuleViolation[] = [];
  const valid = rules(message, out);
  // Without a list to fill, the verdict is the same.
  expect(rules(message)).toBe(valid);
  return valid ? undefined : out;
}

// Values at and around every bound our protos use, plus others: lengths in code points, where an astral
// character is two UTF-16 units and a lone surrogate one.
const INTS = [0, 1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000, 1001, 10_000, 10_001];
const BIG_INTS = [600_000, 600_001, 86_400_000, 86_400_001, 604_800_000, 604_800_001, 2 ** 31 - 1, 2 ** 32 - 1];
const LENGTHS = [0, 1, 2, 3, 7, 8, 9, 16, 31, 32, 33, 63, 64, 65, 127, 128, 129, 256, 257];
const CHARS = ["a", "Z", "7", "-", "é", "🎧", "\ud800", " "];
const COUNTRIES = ["", "DE", "US", "de", "D", "DEU", "D1", "ÉS", "🎧", "DE\n", "A-"];

const text = fc.oneof(
  fc.constantFrom(...COUNTRIES),
  fc
    .tuple(fc.constantFrom(...LENGTHS), fc.constantFrom(...CHARS), fc.constantFrom(...CHARS), fc.nat(100))
    .map(([n, a, b, cut]) => {
      // n code points, a few of them `b`
      let s = "";
      for (let i = 0; i < n; i++) s += i % 7 === cut % 7 ? b : a;
      return s;
    }),
);

function scalar(type: ScalarType): fc.Arbitrary<unknown> {
  const ints = fc.oneof(fc.constantFrom(...INTS, ...BIG_INTS), fc.nat());
  switch (type) {
    case ScalarType.STRING:
      return text;
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 8 });
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.oneof(fc.constantFrom(0, -1, 1, Number.NaN), fc.double({ noNaN: true }));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return ints;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(
        ints,
        ints.map((v) => -v),
      );
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.oneof(ints.map(BigInt), fc.constant(2n ** 64n - 1n));
    default:
      return fc.oneof(
        ints.map(BigInt),
        ints.map((v) => -BigInt(v)),
        fc.constant(-(2n ** 63n)),
      );
  }
}

function single(field: DescField, depth: number): fc.Arbitrary<unknown> {
  const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind;
  if (kind === "scalar") return scalar((field as { scalar: ScalarType }).scalar);
  if (kind === "enum") {
    const values = (field as { enum: { values: { number: number }[] } }).enum.values.map((v) => v.number);
    return fc.oneof(fc.constantFrom(...values), fc.constantFrom(-1, 99, 2 ** 31 - 1));
  }
  return edgeMessage((field as { message: DescMessage }).message, depth + 1);
}

function value(field: DescField, depth: number): fc.Arbitrary<unknown> {
  if (field.fieldKind === "list")
    return fc.oneof(
      fc.array(single(field, depth), { maxLength: depth > 1 ? 2 : 6 }),
      fc
        .constantFrom(15, 16, 17, 255, 256, 257)
        .chain((n) => fc.array(single(field, depth), { minLength: n, maxLength: n })),
    );
  if (field.fieldKind === "map") return fc.constant({});
  if (field.fieldKind === "message")
    return depth > 3 ? fc.constant(undefined) : fc.option(single(field, depth), { nil: undefined, freq: 4 });
  return single(field, depth);
}

/** Messages with every field at or near some rule's bound (most of them invalid in several places). */
function edgeMessage(schema: DescMessage, depth = 0): fc.Arbitrary<MessageShape<DescMessage>> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const member of schema.members) if (member.kind !== "oneof") parts[member.localName] = value(member, depth);
  return fc.record(parts).map((init) => create(schema, init as never));
}

/** A valid request with one or two fields replaced by edge values, anywhere in its tree (mostly near-valid). */
function mutated(): fc.Arbitrary<MessageShape<DescMessage>> {
  const edits = fc.array(
    fc.constantFrom(...fieldPaths(decision.DecideRequestSchema, [])).chain((path) => {
      const field = path[path.length - 1]!;
      return value(field, 1).map((v) => ({ path, v }));
    }),
    { minLength: 1, maxLength: 2 },
  );
  return edits.map((list) => {
    const request = structuredClone(demoRequest()) as unknown as Record<string, unknown>;
    for (const { path, v } of list) {
      let at = request;
      for (const f of path.slice(0, -1)) {
        at[f.localName] ??= create(f.message!, {});
        at = at[f.localName] as Record<string, unknown>;
      }
      at[path[path.length - 1]!.localName] = v;
    }
    return create(decision.DecideRequestSchema, request as never) as MessageShape<DescMessage>;
  });
}

function fieldPaths(schema: DescMessage, prefix: DescField[]): DescField[][] {
  const out: DescField[][] = [];
  for (const field of schema.fields) {
    if (field.oneof || field.fieldKind === "map") continue;
    out.push([...prefix, field]);
    if (field.fieldKind === "message" && prefix.length < 3) out.push(...fieldPaths(field.message, [...prefix, field]));
  }
  return out;
}

/** Every message of our protos (the compiled rules cover a part of them; protovalidate the rest). */
const ALL = [agent, agentSignals, apiKey, campaign, common, decisionLog, decision, ledger, privacy].flatMap((file) =>
  Object.values(file).filter((v): v is DescMessage => (v as DescMessage)?.kind === "message"),
);

describe("compiled protovalidate rules", () => {
  it("compile for the gateway's hot requests, not for messages using rules they do not cover", () => {
    expect(compileRules(decision.DecideRequestSchema)).toBeDefined();
    // Timestamp rules (AdEvent.occurred_at) and oneof rules stay with protovalidate.
    expect(compileRules(decision.ReportEventsRequestSchema)).toBeUndefined();
    expect(compileRules(decision.PlaybackSignalSchema)).toBeUndefined();
  });

  it("agree with protovalidate on valid and mutated DecideRequests: verdict, field paths, rule ids", () => {
    expect(compiled(decision.DecideRequestSchema, demoRequest())).toBeUndefined();
    fc.assert(
      fc.property(mutated(), (request) => {
        expect(compiled(decision.DecideRequestSchema, request)).toEqual(
          reference(decision.DecideRequestSchema, request),
        );
      }),
      { numRuns: 3000, seed: 18 },
    );
  }, 120_000);

  it("agree with protovalidate on random messages of every schema they compile", () => {
    const compiledNames = ALL.filter((s) => compileRules(s) !== undefined).map((s) => s.name);
    expect(compiledNames).toEqual(expect.arrayContaining(["DecideRequest", "DecideTask", "Targeting", "LeaseRequest"]));
    // The ones with rules of their own (the rest compile to "always valid", checked on a few runs each).
    const ruled = new Set([
      "DecideRequest",
      "Placement",
      "ListeningContext",
      "User",
      "Device",
      "Geo",
      "DecideTask",
      "Targeting",
      "FrequencyCap",
      "BidStrategy",
      "CreateAdvertiserRequest",
      "ListCampaignsRequest",
      "LeaseRequest",
      "ListApiKeysRequest",
      "RevokeApiKeyRequest",
    ]);
    const schemas = ALL.filter((s) => compileRules(s) !== undefined);
    for (const schema of schemas)
      fc.assert(
        fc.property(edgeMessage(schema), (message) => {
          expect(compiled(schema, message)).toEqual(reference(schema, message));
        }),
        { numRuns: schema === decision.DecideRequestSchema ? 300 : ruled.has(schema.name) ? 60 : 3, seed: 18 },
      );
  }, 120_000);
});
