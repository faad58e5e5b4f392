import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstream } from "@nats-io/jetstream";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import {
  type AdEvent,
  type DecideRequest,
  DecideRequestSchema,
  type DecideResponse,
  DecisionService,
  NoFillReason,
  type PlaybackSignal,
} from "../../gen/chorus/v1/decision_pb.ts";
import { type Coordination, type Mesh, startMesh } from "../../launch/mesh.ts";
import { CatalogStore, openCatalogBucket } from "../../lib/catalog/catalog-store.ts";
import { loadDemoCatalog } from "../../lib/demo/demo-catalog.ts";
import { connectNats } from "../../lib/nats/connect.ts";
import type { Strategy, StrategySetup } from "../world/strategy.ts";

export interface ChorusOptions {
  coordination: Coordination;
  /** Use a running mesh (gateway + its NATS, for loading the catalog) instead of starting one. */
  gatewayUrl?: string;
  /** The decide key sent to a running gateway (default CHORUS_DECIDE_KEY); a mesh started here makes its own. */
  apiKey?: string;
  natsUrl?: string;
  /** Environment for the mesh's processes (e.g. BUDGET_MAX_LEASE_PPM). */
  env?: Record<string, string>;
  /** How long a Decide may take before it counts as an error (default 2 s, a player's patience). */
  decideTimeoutMs?: number;
}

/**
 * The real thing: a local mesh (or a running one) over its public API. Decide is awaited; playback and events are
 * sent without holding up the simulated clock (as a player would), and stop() waits for every report.
 */
export class ChorusStrategy implements Strategy {
  readonly name = "chorus";
  readonly realtime = true;
  private mesh: Mesh | undefined;
  private client: Client<typeof DecisionService> | undefined;
  private readonly pending = new Set<Promise<unknown>>();
  reportErrors = 0;
  /** Up to five distinct report failures, to tell a validation error from an outage. */
  readonly reportErrorSamples = new Set<string>();
  /** Up to five distinct Decide failures (the world counts them; these say which). */
  readonly decideErrorSamples = new Set<string>();

  constructor(private readonly options: ChorusOptions) {}

  private urls: { gatewayUrl: string; natsUrl: string; apiKey: string } | undefined;

  async launch(): Promise<void> {
    const { gatewayUrl, natsUrl } = this.options;
    if (gatewayUrl && natsUrl) {
      const apiKey = this.options.apiKey ?? process.env.CHORUS_DECIDE_KEY;
      if (!apiKey)
        throw new Error("a running gateway needs CHORUS_DECIDE_KEY (npm start writes .data/credentials.env)");
      this.urls = { gatewayUrl, natsUrl, apiKey };
      return;
    }
    this.mesh = await startMesh({
      coordination: this.options.coordination,
      demo: false,
      gatewayPort: 0,
      silent: true,
      env: { LOG_LEVEL: "warn", ...this.options.env },
    });
    this.urls = {
      gatewayUrl: this.mesh.gatewayUrl,
      natsUrl: this.mesh.natsUrl,
      apiKey: this.mesh.credentials.decideKey,
    };
  }

  async start(setup: StrategySetup): Promise<void> {
    if (!this.urls) throw new Error("launch() first");
    const { gatewayUrl, natsUrl, apiKey } = this.urls;
    // The launched mesh's operator loads the catalog; a running mesh: the credentials in the environment.
    const nc = this.mesh
      ? await this.mesh.connect("chorus-sim-catalog")
      : await connectNats({ servers: natsUrl, name: "chorus-sim-catalog" });
    try {
      const store = new CatalogStore(await openCatalogBucket(jetstream(nc)));
      await loadDemoCatalog(store, {
        advertisers: [...setup.advertisers],
        campaigns: [...setup.campaigns],
        creatives: [...setup.creatives],
      });
    } finally {
      await nc.close();
    }
    this.client = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: gatewayUrl, interceptors: [withApiKey(apiKey)] }),
    );
    await this.waitForInventory(setup.campaigns[0]?.targeting?.genres[0] ?? "pop");
  }

  /** Waits until the gateway's inventory has the catalog (a decide that is not "no eligible candidate"). */
  private async waitForInventory(genre: string, timeoutMs = 15_000): Promise<void> {
    const probe = create(DecideRequestSchema, {
      requestId: "sim-inventory-probe",
      placement: { breakKind: BreakKind.MID_ROLL, maxDurationMs: 60_000, maxAds: 2 },
      user: { userId: "sim-probe", consent: { personalizedAds: true, measurement: true }, geo: { country: "US" } },
      device: { type: DeviceType.PHONE, screenOn: true, foreground: true },
      context: { sessionId: "sim-probe", contentKind: ContentKind.MUSIC, genre, contentDurationMs: 200_000 },
    });
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      // A fresh request id each time: a repeated one returns the first answer (idempotency).
      const r = await this.client!.decide({ ...probe, requestId: `sim-inventory-probe-${Date.now()}` }).catch(
        () => undefined,
      );
      if (r && (r.ads.length > 0 || r.noFillReason !== NoFillReason.NO_ELIGIBLE_CANDIDATE)) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  decide(request: DecideRequest): Promise<DecideResponse> {
    return this.client!.decide(request, { timeoutMs: this.options.decideTimeoutMs ?? 2_000 }).catch((err: unknown) => {
      if (this.decideErrorSamples.size < 5)
        this.decideErrorSamples.add(err instanceof Error ? err.message : String(err));
      throw err;
    });
  }

  async reportPlayback(signals: readonly PlaybackSignal[]): Promise<void> {
    this.track(this.client!.reportPlayback({ signals: [...signals] }));
  }

  async reportEvents(events: readonly AdEvent[]): Promise<void> {
    this.track(this.client!.reportEvents({ events: [...events] }));
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.mesh?.stop();
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.then(
      () => undefined,
      (err: unknown) => {
        this.reportErrors++;
        if (this.reportErrorSamples.size < 5)
          this.reportErrorSamples.add(err instanceof Error ? err.message : String(err));
      },
    );
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }
}
