/**
 * JetStream's own API as a way around subject permissions, against a real nats-server with the generated
 * configuration: a process that may change a stream's configuration could make the server publish for it (a
 * stream's `republish`), copy another process's data into a stream it reads (`sources`), or wipe what others rely on
 * (`max_age`, the exactly-once settings of the events stream). Only the operator (npm start's launcher, `chorus bus
 * setup`) creates and changes streams; processes only check them. A push consumer's deliver subject is another way
 * to make the server publish: refused unless the creator could publish there itself.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApiKeyBucket } from "../../gateway/auth/api-key-store.ts";
import { ensureLedgerStreams } from "../../ledger/ledger-streams.ts";
import type { NatsConnection } from "../../lib/nats/connect.ts";
import { MissingStoreError } from "../../lib/nats/jetstream-replicas.ts";
import type { NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import type { ServerAuth } from "../../lib/nats/server-auth.ts";
import { buckets, streams, subjects } from "../../lib/subjects.ts";
import { type AuthBus, startAuthBus } from "./bus-fixture.ts";

describe("bus permissions - no process can change a stream or make the server publish for it", () => {
  let bus: AuthBus;
  let dir: string;
  let auth: ServerAuth;
  let server: NatsServerProcess;
  let as: Record<string, NatsConnection>;

  beforeAll(async () => {
    bus = await startAuthBus({ name: "bus-escalation", clientPrefix: "esc" });
    ({ dir, auth, server, as } = bus);
  }, 60_000);

  afterAll(async () => {
    await bus?.stop();
  });

  async function expectApiRefused(identity: string, api: string, run: () => Promise<unknown>) {
    await expect(run()).rejects.toThrow(/permission|timeout/i);
    await bus.violationLogged(identity, (v) => v.subject === api, api);
  }

  it("refuses every process creating or changing a stream, bucket or object store; the operator may", async () => {
    const attempts: [identity: string, stream: string][] = [
      ["gateway", streams.decisions],
      ["gateway", `KV_${buckets.catalog}`],
      ["gateway", `KV_${buckets.moduleState}`],
      ["gateway", `OBJ_${buckets.decisionInventories}`],
      ["agents-1", `KV_${buckets.agentState}`],
      ["agents-1", `KV_${buckets.moduleState}`],
      ["budget", streams.events],
      ["budget", streams.leases],
      ["budget", `KV_${buckets.leaders}`],
      ["ledger", streams.events],
      ["ledger", streams.receipts],
      ["ledger", `KV_${buckets.ledger}`],
    ];
    for (const [identity, stream] of attempts) {
      const jsm = await jetstreamManager(as[identity]!);
      const info = await jsm.streams.info(stream);
      // A republish would let the owner of a stream publish anything on any subject through the server.
      await expectApiRefused(identity, `$JS.API.STREAM.UPDATE.${stream}`, () =>
        // Limits wipe what others rely on; on newer servers a republish would let it publish anything anywhere.
        jsm.streams.update(stream, { ...info.config, max_msgs: 1 }),
      );
      await expectApiRefused(identity, `$JS.API.STREAM.CREATE.${stream}`, () =>
        jsm.streams.add({ ...info.config, max_age: 1_000_000_000 }),
      );
    }
    // Nothing changed; the operator may.
    const operator = await jetstreamManager(as.operator!);
    const events = (await operator.streams.info(streams.events)).config;
    expect(events.republish?.dest).toBe(subjects.acceptedEventsAll);
    expect(events.max_msgs).not.toBe(1);
    expect(events.discard).toBe(DiscardPolicy.New);
    const decisions = (await operator.streams.info(streams.decisions)).config;
    expect((await operator.streams.update(streams.decisions, decisions)).config.name).toBe(streams.decisions);
  });

  it("a process that finds a store missing does not create it: it stops and says to run chorus bus setup", {
    timeout: 120_000,
  }, async () => {
    const operator = await jetstreamManager(as.operator!);
    await operator.streams.delete(`KV_${buckets.apiKeys}`);
    await expect(openApiKeyBucket(jetstream(as.gateway!))).rejects.toThrow(MissingStoreError);
    await expect(openApiKeyBucket(jetstream(as.gateway!))).rejects.toThrow(/chorus bus setup/);
    await expect(ensureLedgerStreams(await jetstreamManager(as.ledger!))).resolves.toBeUndefined();
    // `chorus bus setup` (what an operator runs on a production server) puts it back; with the gateway's identity it
    // is refused and fails.
    const cli = (identity: string) =>
      promisify(execFile)(
        process.execPath,
        ["--import", "tsx", "cli/chorus.ts", "bus", "setup", "--nats-url", server.url],
        {
          env: { ...process.env, ...auth.env(identity), CHORUS_DATA_DIR: join(dir, "no-local-mesh") },
          timeout: 60_000,
        },
      );
    await expect(cli("gateway")).rejects.toThrow(/chorus bus setup|permission/i);
    const { stdout } = await cli("operator");
    expect(stdout).toContain("ok  KV chorus_api_keys");
    expect((await (await openApiKeyBucket(jetstream(as.gateway!))).status()).bucket).toBe(buckets.apiKeys);
  });

  it("refuses a push consumer delivering where its creator may not publish; one to its own inbox works", async () => {
    const forged = subjects.agentSignal("budget", "forged");
    const seen: string[] = [];
    const mirror = as.gateway!.subscribe(subjects.agentSignalAll("budget"), {
      callback: (_e, m) => {
        seen.push(m.subject);
      },
    });
    const inbox = `${auth.access("gateway").inboxPrefix}.push`;
    const own: string[] = [];
    const ownSub = as.gateway!.subscribe(inbox, {
      callback: (_e, m) => {
        own.push(m.subject);
      },
    });
    await as.gateway!.flush();
    await jetstream(as.gateway!).publish(subjects.receipt("escalation"), new Uint8Array([1]));
    const jsm = await jetstreamManager(as.gateway!);
    const push = (deliver_subject: string) =>
      jsm.consumers.add(streams.receipts, {
        deliver_subject,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
      });
    await push(forged).catch(() => undefined);
    await push(inbox);
    const until = Date.now() + 5_000;
    while (own.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    mirror.unsubscribe();
    ownSub.unsubscribe();
    // The control: the server delivers to the creator's own inbox, so the empty list below is a refusal, not a delay.
    expect(own.length).toBeGreaterThan(0);
    expect(seen).toEqual([]);
  });
});
