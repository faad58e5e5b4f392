/**
 * An agent scoring module run on the calling thread, its buffers being views of the module's own memory (no copy
 * in or out). Only for the build shipped with the process: it is as trusted as the TypeScript it reproduces
 * (property-tested), so it needs no time limit, and a trap is an exception caught here. Versions that arrive
 * through the module registry run in an AgentScoringLane (worker, time limit) instead.
 */
import type { AgentScoringExports, ScoringLayout } from "./agent-scoring-abi.ts";
import type { ScoringBuffers, ScoringOutcome } from "./agent-scoring-lane.ts";

export class InlineScoringLane {
  readonly #exports: AgentScoringExports;
  #buffers: ScoringBuffers | undefined;
  #memory: ArrayBuffer | undefined;
  lastError = "";
  readonly replacements = 0;
  readonly threadId = 0;
  readonly busy = false;

  constructor(
    bytes: Uint8Array,
    private readonly layout: ScoringLayout,
    readonly capacity: number,
  ) {
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    this.#exports = new WebAssembly.Instance(module, {}).exports as unknown as AgentScoringExports;
    const status = this.#exports.configure(capacity);
    if (status !== 0) throw new Error(`configure(${capacity}) returned status ${status}`);
  }

  get buffers(): ScoringBuffers {
    const memory = this.#exports.memory.buffer;
    if (memory !== this.#memory) {
      // Views are rebuilt when memory grew (a detached buffer would read as empty).
      const { context, features } = this.layout;
      const input = this.#exports.input();
      this.#buffers = {
        context: new Float64Array(memory, input, context),
        features: new Float64Array(memory, input + context * 8, this.capacity * features),
        output: new Float64Array(memory, this.#exports.output(), 1 + 2 * this.capacity),
      };
      this.#memory = memory;
    }
    return this.#buffers!;
  }

  get memoryBytes(): number {
    return this.#exports.memory.buffer.byteLength;
  }

  call(n: number): ScoringOutcome {
    if (n > this.capacity) return "unavailable";
    try {
      const status = this.#exports.score(n);
      if (status === 0) return "ok";
      this.lastError = `module failed: status ${status}`;
    } catch (err) {
      this.lastError = `module trapped: ${(err as Error).message}`;
    }
    return "error";
  }

  async callAsync(n: number): Promise<ScoringOutcome> {
    return this.call(n);
  }

  async close(): Promise<void> {}
}
