/**
 * Least privilege on the bus, against a real nats-server running the configuration npm start generates
 * (lib/nats/server-auth.ts from lib/nats/permissions.ts): every refusal the issue names is shown as the server's own
 * permissions violation (its log, and the error the client gets), next to the legitimate path that still works.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { Msg } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openApiKeyBucket } from "../../gateway/auth/api-key-store.ts";
import { ModuleStateSchema } from "../../gen/chorus/v1/module_pb.ts";
import { openLedgerBucket } from "../../ledger/ledger-streams.ts";
import { createLogger } from "../../lib/log/logger.ts";
import type { NatsConnection } from "../../lib/nats/connect.ts";
import { authConnectionOptions, natsClientAuth } from "../../lib/nats/connect-options.ts";
import { toolNatsAccess, writeLocalMesh } from "../../lib/nats/local-mesh.ts";
import type { NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import { AGENT_INPUTS, RESPONSE_WINDOW_MS } from "../../lib/nats/permissions.ts";
import { respondInWindow } from "../../lib/nats/respond-in-window.ts";
import type { ServerAuth } from "../../lib/nats/server-auth.ts";
import { permissionViolations } from "../../lib/nats/server-log.ts";
import { AGENTS, buckets, streams, subjects } from "../../lib/subjects.ts";
import { KeyRevocations } from "../../modules/key-revocations.ts";
import { ModuleRegistry } from "../../modules/module-registry.ts";
import { rollbackOverNats, serveRollbackRequests } from "../../modules/rollback-requests.ts";
import { openAgentStateBucket } from "../../voting/mirror/agent-state-store.ts";
import { loadAgents } from "../../voting/registry/agent-loaders.ts";
import { type AuthBus, BUS_IDENTITIES, startAuthBus } from "./bus-fixture.ts";

const silentLogger = createLogger("bus-permissions", "silent");

const IDENTITIES = BUS_IDENTITIES;

describe("bus permissions - every process kind is held to its own rights by the server", () => {
  let bus: AuthBus;
  let dir: string;
  let auth: ServerAuth;
  let server: NatsServerProcess;
  /** One connection per identity, named after it (the server's log names the client). */
  let as: Record<string, NatsConnection>;

  beforeAll(async () => {
    // Laid out as npm start does in .data: the CLI test below finds the operator identity from the data dir.
    bus = await startAuthBus({ name: "bus-permissions", clientPrefix: "perm", authDir: ["nats", "auth"] });
    ({ dir, auth, server, as } = bus);
    writeLocalMesh(auth.dir, server.url);
  }, 60_000);

  afterAll(async () => {
    await bus?.stop();
  });

  /** The server logged this refusal. */
  function expectViolation(identity: string, kind: "Publish" | "Subscription", subject: string | RegExp) {
    return bus.violationLogged(
      identity,
      (v) => v.kind === kind && (typeof subject === "string" ? v.subject === subject : subject.test(v.subject)),
      `${kind} ${subject}`,
    );
  }

  /** A JetStream publish (or KV write) the server refuses: the client's promise fails, the server logs why. */
  async function expectPublishRefused(identity: string, subject: string) {
    await expect(jetstream(as[identity]!).publish(subject, new Uint8Array([1]), { timeout: 2_000 })).rejects.toThrow(
      /permission|timeout|no responders/i,
    );
    await expectViolation(identity, "Publish", subject);
  }

  /** A subscription the server refuses: the subscription closes with the permissions error. */
  async function expectSubscribeRefused(identity: string, subject: string) {
    const sub = as[identity]!.subscribe(subject);
    const closed = await Promise.race([
      sub.closed.then(
        (e) => e,
        (e: unknown) => e,
      ),
      new Promise((r) => setTimeout(() => r("still open"), 5_000)),
    ]);
    expect(String(closed)).toMatch(/permission/i);
    await expectViolation(identity, "Subscription", subject);
  }

  it("writes the secrets 0600 in a 0700 folder and no seed into the server configuration", async () => {
    expect(statSync(auth.dir).mode & 0o777).toBe(0o700);
    for (const { name } of IDENTITIES) expect(statSync(auth.access(name).seedFile).mode & 0o777).toBe(0o600);
    expect(statSync(auth.configFile).mode & 0o777).toBe(0o600);
    const { readFileSync } = await import("node:fs");
    const config = readFileSync(auth.configFile, "utf8");
    expect(config).not.toMatch(/\bSU[A-Z2-7]{50,}/);
    expect(config.match(/nkey: U[A-Z2-7]+/g)).toHaveLength(IDENTITIES.length);
  });

  it("refuses a connection without credentials, and one with an unknown nkey", async () => {
    await expect(connect({ servers: server.url, maxReconnectAttempts: 0, reconnect: false })).rejects.toThrow(
      /authorization/i,
    );
    const { createUser } = await import("@nats-io/nkeys");
    const { writeFileSync } = await import("node:fs");
    const stranger = join(dir, "stranger.nk");
    writeFileSync(stranger, new TextDecoder().decode(createUser().getSeed()), { mode: 0o600 });
    await expect(
      connect({
        servers: server.url,
        maxReconnectAttempts: 0,
        reconnect: false,
        ...authConnectionOptions(natsClientAuth({ NATS_NKEY_SEED_FILE: stranger })),
      }),
    ).rejects.toThrow(/authorization/i);
  });

  it("lets only the Budget agent answer lease requests; the gateway asks and gets the answer", async () => {
    await expectSubscribeRefused("gateway", subjects.budgetLease);
    await expectSubscribeRefused("agents-1", subjects.budgetLease);
    await expectSubscribeRefused("ledger", subjects.budgetLease);
    const sub = as.budget!.subscribe(subjects.budgetLease, {
      callback: (_e, m) => {
        m.respond(new Uint8Array([7]));
      },
    });
    await as.budget!.flush();
    const reply = await as.gateway!.request(subjects.budgetLease, new Uint8Array([1]), { timeout: 2_000 });
    expect([...reply.data]).toEqual([7]);
    sub.unsubscribe();
  });

  it("lets a responder answer within RESPONSE_WINDOW_MS only (the server remembers delivered reply subjects that long)", async () => {
    // A late answer is refused: the window is in force, so nats-server 2.9 forgets the reply subject of every
    // message it delivers to a responder (JetStream deliveries included) after 2 s instead of 2 minutes.
    const late: Msg[] = [];
    const sub = as.budget!.subscribe(subjects.budgetLease, {
      callback: (_e, m) => {
        late.push(m);
      },
    });
    await as.budget!.flush();
    const pending = as.gateway!.request(subjects.budgetLease, new Uint8Array([1]), {
      timeout: RESPONSE_WINDOW_MS + 3_000,
    });
    await vi.waitFor(() => expect(late).toHaveLength(1));
    await new Promise((r) => setTimeout(r, RESPONSE_WINDOW_MS + 500));
    late[0]!.respond(new Uint8Array([7]));
    await expect(pending).rejects.toThrow(/timeout/i);
    await expectViolation("budget", "Publish", /^_INBOX\.gateway/);
    sub.unsubscribe();
  });

  it("respondInWindow - an answer that had to wait past the window is dropped, not refused; one in time is delivered", async () => {
    const got: Msg[] = [];
    const sub = as.budget!.subscribe(subjects.budgetLease, { callback: (_e, m) => void got.push(m) });
    await as.budget!.flush();
    const inTime = as.gateway!.request(subjects.budgetLease, new Uint8Array([1]), { timeout: 2_000 });
    await vi.waitFor(() => expect(got).toHaveLength(1));
    expect(respondInWindow(got[0]!, new Uint8Array([7]), performance.now())).toBe(true);
    expect([...(await inTime).data]).toEqual([7]);

    const before = permissionViolations(bus.logFile).length;
    const late = as.gateway!.request(subjects.budgetLease, new Uint8Array([1]), {
      timeout: RESPONSE_WINDOW_MS + 3_000,
    });
    await vi.waitFor(() => expect(got).toHaveLength(2));
    const receivedAt = performance.now();
    await new Promise((r) => setTimeout(r, RESPONSE_WINDOW_MS - 400));
    expect(respondInWindow(got[1]!, new Uint8Array([8]), receivedAt)).toBe(false);
    await expect(late).rejects.toThrow(/timeout/i);
    await as.budget!.flush();
    expect(permissionViolations(bus.logFile)).toHaveLength(before);
    sub.unsubscribe();
  });

  it("refuses the gateway publishing an agent's signal; the agent's own signal reaches the gateway", async () => {
    const subject = subjects.agentSignal("intent", "global");
    const seen = as.gateway!.subscribe(subjects.agentSignalAll("intent"), { max: 1 });
    await as.gateway!.flush();
    as.gateway!.publish(subject, new Uint8Array([1]));
    await expectViolation("gateway", "Publish", subject);
    as["agents-1"]!.publish(subject, new Uint8Array([2]));
    for await (const m of seen) expect([...m.data]).toEqual([2]);
    // An agent host cannot speak for an agent it does not run, nor answer its decide requests.
    as["agents-1"]!.publish(subjects.agentSignal("bidding", "global"), new Uint8Array([1]));
    await expectViolation("agents-1", "Publish", subjects.agentSignal("bidding", "global"));
    await expectSubscribeRefused("agents-1", subjects.agentDecide("bidding"));
  });

  it("refuses an agent writing receipts, events, ledger state or module state; the owners write them", async () => {
    await expectPublishRefused("agents-1", subjects.receipt("d-1"));
    await expectPublishRefused("agents-1", subjects.adEvent("impression", "c-1", ["d-1", "cr-1"]));
    await expectPublishRefused("agents-1", `$KV.${buckets.ledger}.snapshot`);
    await expectPublishRefused("agents-1", `$KV.${buckets.moduleState}.state.kernel`);
    await expectPublishRefused("agents-1", subjects.leaseLog("c-1"));
    // Forged "accepted" copies: only the events stream's republish writes them.
    as["agents-1"]!.publish(subjects.acceptedEventsAll.replace(">", "impression.x"), new Uint8Array([1]));
    await expectViolation("agents-1", "Publish", "chorus.accepted.impression.x");
    // The gateway writes receipts and events, the ledger its snapshot.
    const js = jetstream(as.gateway!);
    expect((await js.publish(subjects.receipt("d-1"), new Uint8Array([1]))).stream).toBe(streams.receipts);
    expect((await js.publish(subjects.adEvent("impression", "c-1", ["d-1", "cr-1"]), new Uint8Array([1]))).stream).toBe(
      streams.events,
    );
    const ledger = await openLedgerBucket(await jetstreamManager(as.ledger!));
    expect(await ledger.put("snapshot", new Uint8Array([1]))).toBeGreaterThan(0);
  });

  it("refuses the gateway writing ledger state, the lease log or quarantine", async () => {
    await expectPublishRefused("gateway", `$KV.${buckets.ledger}.snapshot`);
    await expectPublishRefused("gateway", subjects.leaseLog("c-1"));
    await expectPublishRefused("gateway", subjects.quarantinedEvent(1));
    await expectPublishRefused("gateway", `$KV.${buckets.leaders}.budget`);
  });

  it("lets only the operator publish module versions and write module state; processes ask the steward to roll back", async () => {
    const objects = `$O.${buckets.moduleObjects}.M.${Buffer.from("kernel/9.9.9.wasm").toString("base64url")}`;
    await expectPublishRefused("gateway", objects);
    await expectPublishRefused("agents-1", objects);
    // Module state (which version is active, canary, shadow): no gateway or agent host writes it, not even for the
    // modules it runs.
    await expectPublishRefused("gateway", `$KV.${buckets.moduleState}.state.kernel`);
    await expectPublishRefused("gateway", `$KV.${buckets.moduleState}.state.agent-intent`);
    await expectPublishRefused("agents-1", `$KV.${buckets.moduleState}.state.agent-intent`);
    await expectPublishRefused("agents-1", `$KV.${buckets.moduleState}.state.agent-bidding`);
    await expectPublishRefused("budget", `$KV.${buckets.moduleState}.state.agent-budget`);
    await expectPublishRefused("ledger", `$KV.${buckets.moduleState}.state.kernel`);
    // The signing-key revocation list is the operator's alone: a process that could write it could revoke (roll
    // back) every version, and one that could delete an entry could bring a revoked key back.
    for (const identity of ["gateway", "agents-1", "budget", "ledger"])
      await expectPublishRefused(identity, `$KV.${buckets.moduleState}.revoked.0123456789abcdef`);
    const registry = await ModuleRegistry.open(jetstream(as.operator!));
    await KeyRevocations.revoke(registry.states, { keyId: "0123456789abcdef", reason: "test", actor: "op", at: "" });
    expect((await registry.states.get("revoked.0123456789abcdef"))?.operation).toBe("PUT");
    await registry.objects.putBlob({ name: "kernel/0.0.1.wasm" }, new Uint8Array([0, 97, 115, 109]));
    expect((await registry.objects.info("kernel/0.0.1.wasm"))?.size).toBe(4);
    // The operator writes the state: version 2.0.0 active after 1.0.0 (as `chorus modules activate` would).
    const start = create(ModuleStateSchema, {
      module: "agent-intent",
      activeVersion: "2.0.0",
      previousVersion: "1.0.0",
    });
    await registry.updateState("agent-intent", () => start);
    // An automatic rollback goes through the operator side's steward: a host asks only for the modules it runs.
    const steward = serveRollbackRequests(as.operator!, registry, silentLogger);
    // The server must have the steward's subscription before the first request, or it answers "no responders".
    await as.operator!.flush();
    try {
      await rollbackOverNats(as["agents-1"]!, "agent-intent", "agents-1")("2.0.0", "error rate");
      const { state } = await registry.state("agent-intent");
      expect(state.activeVersion).toBe("1.0.0");
      expect(state.history.at(-1)?.actor).toBe("agents-1 (automatic rollback)");
      await expect(rollbackOverNats(as["agents-1"]!, "agent-bidding", "agents-1")("1.0.0", "x")).rejects.toThrow();
      await expectViolation("agents-1", "Publish", subjects.moduleRollback("agent-bidding"));
      // The steward only takes a version out of its role; it never activates one.
      await rollbackOverNats(as["agents-1"]!, "agent-intent", "agents-1")("9.9.9", "not a version with a role");
      expect((await registry.state("agent-intent")).state.activeVersion).toBe("1.0.0");
    } finally {
      steward.unsubscribe();
    }
    // And reading published modules works for every runner.
    const store = await new Objm(jetstream(as["agents-1"]!)).open(buckets.moduleObjects);
    expect([...((await store.getBlob("kernel/0.0.1.wasm")) ?? [])]).toEqual([0, 97, 115, 109]);
  });

  it("refuses an agent reading the API-keys bucket; the gateway reads it", async () => {
    const keys = await openApiKeyBucket(jetstream(as.gateway!));
    await keys.put("k1", new TextEncoder().encode("{}"));
    expect((await keys.get("k1"))?.string()).toBe("{}");
    const stolen = await new Kvm(jetstream(as["agents-1"]!)).open(buckets.apiKeys);
    await expect(stolen.get("k1")).rejects.toThrow(/permission|timeout/i);
    await expectViolation(
      "agents-1",
      "Publish",
      new RegExp(`^\\$JS\\.API\\.(DIRECT|STREAM\\.MSG)\\.GET\\.KV_${buckets.apiKeys}`),
    );
    await expect(stolen.keys()).rejects.toThrow(/permission|timeout/i);
    await expectViolation(
      "agents-1",
      "Publish",
      new RegExp(`^\\$JS\\.API\\.CONSUMER\\.CREATE\\.KV_${buckets.apiKeys}`),
    );
    await expectSubscribeRefused("agents-1", `$KV.${buckets.apiKeys}.>`);
  });

  it("refuses an agent writing another agent's snapshot; its own is written and read back", async () => {
    const kv = await openAgentStateBucket(jetstream(as["agents-1"]!));
    expect(await kv.put("intent.global", new Uint8Array([1]))).toBeGreaterThan(0);
    expect([...((await kv.get("intent.global"))?.value ?? [])]).toEqual([1]);
    await expectPublishRefused("agents-1", `$KV.${buckets.agentState}.bidding.global`);
    // The gateway reads snapshots (its mirrors start from them) but writes none.
    await expectPublishRefused("gateway", `$KV.${buckets.agentState}.intent.global`);
  });

  it("refuses deleting or purging a stream to every process; the operator may", async () => {
    for (const identity of ["gateway", "ledger", "budget", "agents-1"]) {
      const jsm = await jetstreamManager(as[identity]!);
      await expect(jsm.streams.delete(streams.events)).rejects.toThrow(/permission|timeout/i);
      await expectViolation(identity, "Publish", `$JS.API.STREAM.DELETE.${streams.events}`);
    }
    const gateway = await jetstreamManager(as.gateway!);
    await expect(gateway.streams.purge(streams.receipts)).rejects.toThrow(/permission|timeout/i);
    await expectViolation("gateway", "Publish", `$JS.API.STREAM.PURGE.${streams.receipts}`);
    const operator = await jetstreamManager(as.operator!);
    await operator.streams.add({ name: "SCRATCH", subjects: ["scratch.>"] });
    expect(await operator.streams.delete("SCRATCH")).toBe(true);
    expect((await operator.streams.info(streams.events)).config.name).toBe(streams.events);
  });

  it("keeps each identity to its own inbox", async () => {
    await expectSubscribeRefused("gateway", "_INBOX.ledger.>");
    await expectSubscribeRefused("agents-1", "_INBOX.>");
    await expectSubscribeRefused("operator", "chorus.receipts.>");
  });

  it("lets a tool (the chorus CLI) find the local mesh and its operator identity from the data dir alone", async () => {
    const access = toolNatsAccess(undefined, { CHORUS_DATA_DIR: dir });
    expect(access.url).toBe(server.url);
    expect(access.auth.describe).toContain(join(dir, "nats", "auth", "operator.nk"));
    const nc = await connect({ servers: access.url, reconnect: false, ...authConnectionOptions(access.auth) });
    try {
      expect((await (await jetstreamManager(nc)).streams.info(streams.events)).config.name).toBe(streams.events);
    } finally {
      await nc.close();
    }
    // Another server: the local identity is not offered to it.
    expect(toolNatsAccess("nats://127.0.0.1:1", { CHORUS_DATA_DIR: dir }).auth.describe).toBe("no credentials");
  });

  it("grants each agent exactly the input subjects its module declares", async () => {
    const modules = await loadAgents(AGENTS);
    for (const m of modules) {
      const declared = m.inputs.map((i) => (typeof i.subject === "string" ? i.subject : i.subject(3)));
      const granted = AGENT_INPUTS[m.name as keyof typeof AGENT_INPUTS];
      for (const s of declared)
        expect(
          granted.some((g) => matches(g, s)),
          `${m.name} reads ${s}`,
        ).toBe(true);
      for (const g of granted)
        expect(
          declared.some((s) => matches(g, s)),
          `${m.name} is granted ${g} but reads nothing there`,
        ).toBe(true);
    }
  });
});

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
