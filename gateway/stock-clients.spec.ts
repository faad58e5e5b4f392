import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, createFileRegistry, fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecideRequestSchema, DecideResponseSchema } from "../gen/chorus/v1/decision_pb.ts";
import { type GatewayFixture, startGatewayFixture } from "./testing/gateway-fixture.ts";
import { grpcFrame, grpcStatus, rawHttp2Call } from "./testing/raw-http2-call.ts";
import { decideRequest } from "./testing/sample-requests.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const includeDirs = [`${root}proto`, `${root}proto-vendor`];
// What a stock client does: load the .proto sources, not our generated code.
function stockClient(file: string, service: string, target: string): grpc.Client {
  const definition = loadSync(file, { includeDirs, keepCase: true, longs: String, enums: String, defaults: true });
  let node: unknown = grpc.loadPackageDefinition(definition);
  for (const part of service.split(".")) node = (node as Record<string, unknown>)[part];
  const Client = node as grpc.ServiceClientConstructor;
  return new Client(target, grpc.credentials.createInsecure());
}

let fx: GatewayFixture;
let target: string;
beforeAll(async () => {
  fx = await startGatewayFixture();
  target = fx.gateway.url.replace("http://", "");
});
afterAll(() => fx?.cleanup());

/** A unary call with the fixture's decide key in the metadata (health ignores it). */
function unary<T>(client: grpc.Client, method: string, request: unknown): Promise<T> {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${fx.keys.decide}`);
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, cb: (e: Error | null, v: T) => void) => void>)[
      method
    ]!(request, metadata, (err, value) => (err ? reject(err) : resolve(value))),
  );
}

describe("gateway stock clients", () => {
  it("grpc-js - calls Decide with the .proto files and proto-loader", async () => {
    const client = stockClient("chorus/v1/decision.proto", "chorus.v1.DecisionService", target);
    try {
      const response = await unary<{ decision_id: string; ads: { creative_id: string; price_micros: string }[] }>(
        client,
        "Decide",
        {
          request_id: "grpc-js-1",
          placement: {
            break_kind: "BREAK_KIND_MID_ROLL",
            max_duration_ms: 90_000,
            max_ads: 2,
            floor_price_micros: 900,
          },
          user: { user_id: "u-1" },
          device: { type: "DEVICE_TYPE_SMART_SPEAKER" },
        },
      );
      expect(response.decision_id).toBe("test-grpc-js-1");
      expect(response.ads.map((ad) => [ad.creative_id, ad.price_micros])).toEqual([
        ["cr-a", "900"],
        ["cr-b", "900"],
      ]);
      await expect(unary(client, "Decide", { request_id: "" })).rejects.toMatchObject({
        code: grpc.status.INVALID_ARGUMENT,
        details: expect.stringContaining("placement"),
      });
    } finally {
      client.close();
    }
  });

  it("health - Check reports SERVING, follows the setter, NOT_FOUND for unknown services; Watch streams changes", async () => {
    const client = stockClient("grpc/health/v1/health.proto", "grpc.health.v1.Health", target);
    try {
      for (const service of ["", "chorus.v1.DecisionService", "chorus.v1.CampaignService"])
        expect(await unary(client, "Check", { service })).toEqual({ status: "SERVING" });
      await expect(unary(client, "Check", { service: "nope.Service" })).rejects.toMatchObject({
        code: grpc.status.NOT_FOUND,
      });
      const watch = (client as unknown as { Watch(r: unknown): grpc.ClientReadableStream<{ status: string }> }).Watch({
        service: "chorus.v1.CampaignService",
      });
      const seen: string[] = [];
      const twoUpdates = new Promise<void>((resolve) =>
        watch.on("data", (m: { status: string }) => {
          seen.push(m.status);
          if (seen.length === 1) fx.gateway.health.set("NOT_SERVING", "chorus.v1.CampaignService");
          if (seen.length === 2) resolve();
        }),
      );
      watch.on("error", () => {}); // cancelled below
      await twoUpdates;
      watch.cancel();
      expect(seen).toEqual(["SERVING", "NOT_SERVING"]);
      expect(await unary(client, "Check", { service: "chorus.v1.CampaignService" })).toEqual({ status: "NOT_SERVING" });
      expect(await unary(client, "Check", { service: "" })).toEqual({ status: "SERVING" });
    } finally {
      fx.gateway.health.set("SERVING");
      client.close();
    }
  });

  for (const version of ["v1", "v1alpha"]) {
    it(`reflection ${version} - lists services and describes Decide well enough to call it`, async () => {
      const client = stockClient(
        `grpc/reflection/${version}/reflection.proto`,
        `grpc.reflection.${version}.ServerReflection`,
        target,
      );
      type Answer = {
        list_services_response?: { service: { name: string }[] };
        file_descriptor_response?: { file_descriptor_proto: Buffer[] };
        error_response?: { error_code: number };
      };
      const call = (
        client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, Answer> }
      ).ServerReflectionInfo();
      const answers: Answer[] = [];
      const done = new Promise<void>((resolve, reject) => {
        call.on("data", (a: Answer) => answers.push(a));
        call.on("end", resolve);
        call.on("error", reject);
      });
      call.write({ list_services: "*" });
      call.write({ file_containing_symbol: "chorus.v1.DecisionService.Decide" });
      call.write({ file_containing_symbol: "chorus.v1.NoSuchThing" });
      call.end();
      await done;
      client.close();

      expect(answers[0]!.list_services_response!.service.map((s) => s.name).sort()).toEqual([
        "chorus.v1.ApiKeyService",
        "chorus.v1.CampaignService",
        "chorus.v1.DecisionService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]);
      expect(answers[2]!.error_response?.error_code).toBe(5);

      // The answer is self-contained (the file and its imports): build a registry from it as grpcurl does...
      const files = answers[1]!.file_descriptor_response!.file_descriptor_proto.map((b) =>
        fromBinary(FileDescriptorProtoSchema, b),
      );
      expect(files.map((f) => f.name)).toContain("chorus/v1/decision.proto");
      // protobuf-es wants imports before importers; reflection sends the asked-for file first.
      const byName = new Map(files.map((f) => [f.name, f]));
      const ordered: typeof files = [];
      const visit = (name: string) => {
        const file = byName.get(name)!;
        if (ordered.includes(file)) return;
        for (const dependency of file.dependency) visit(dependency);
        ordered.push(file);
      };
      for (const f of files) visit(f.name);
      const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
      const service = registry.getService("chorus.v1.DecisionService")!;
      const method = service.methods.find((m) => m.name === "Decide")!;
      expect(method.methodKind).toBe("unary");
      // ...and call Decide with reflected types only.
      const request = fromJson(method.input, {
        requestId: "reflected",
        placement: { breakKind: "BREAK_KIND_PRE_ROLL", maxDurationMs: 20000, maxAds: 1 },
        user: { userId: "u" },
        device: { type: "DEVICE_TYPE_TV" },
      });
      const raw = await rawHttp2Call(
        fx.gateway.url,
        "/chorus.v1.DecisionService/Decide",
        { "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${fx.keys.decide}` },
        grpcFrame(toBinary(method.input, request)),
      );
      expect(grpcStatus(raw)).toBe(0);
      const response = fromBinary(DecideResponseSchema, raw.body.subarray(5));
      expect(response.ads.map((ad) => ad.creativeId)).toEqual(["cr-a"]);
    });
  }

  // The first python that has grpcio (a pyenv python on PATH may shadow Debian's python3-grpcio).
  const python = ["python3", "/usr/bin/python3"].find(
    (bin) => spawnSync(bin, ["-c", "import grpc"], { stdio: "ignore" }).status === 0,
  );
  const pythonMissing = python === undefined;
  if (pythonMissing)
    console.warn("skipping the Python grpcio test: no python3 can `import grpc` (install python3-grpcio to run it)");
  it.skipIf(pythonMissing)("python grpcio - a generic unary call with raw bytes gets a pod", async () => {
    const script = [
      "import sys, grpc",
      "channel = grpc.insecure_channel(sys.argv[1])",
      "decide = channel.unary_unary('/chorus.v1.DecisionService/Decide')",
      "key = [('authorization', 'Bearer ' + sys.argv[3])]",
      "sys.stdout.write(decide(bytes.fromhex(sys.argv[2]), timeout=5, metadata=key).hex())",
    ].join("\n");
    const request = Buffer.from(toBinary(DecideRequestSchema, decideRequest("python"))).toString("hex");
    // Asynchronously: the gateway under test runs in this process and must keep serving meanwhile.
    const result = await promisify(execFile)(python!, ["-c", script, target, request, fx.keys.decide], {
      timeout: 15_000,
    });
    expect(result.stderr).toBe("");
    const response = fromBinary(DecideResponseSchema, Buffer.from(result.stdout, "hex"));
    expect(response.decisionId).toBe("test-python");
    expect(response.ads).toHaveLength(3);
  });
});
