/**
 * The kernel on the calling thread (KernelPool mode "inline"): no isolation and no time limit, so only the
 * shipped build should run here (the ModuleRouter gives a published version workers). One instance, holding the
 * inventory of the last decision; a trapped instance is never reused (the policy of replacing a worker).
 */
import { KernelTrapError } from "./kernel-errors.ts";
import type { KernelCapacity, KernelRequest, KernelResult } from "./kernel-inputs.ts";
import type { KernelInstance } from "./kernel-instance.ts";
import { instantiateKernel } from "./kernel-loader.ts";
import type { ResidentInventories } from "./resident-inventories.ts";

export class InlineKernel {
  #module: WebAssembly.Module;
  #instance: KernelInstance;
  /** Instances recreated after a trap. */
  traps = 0;

  constructor(
    module: WebAssembly.Module,
    private readonly capacity: KernelCapacity,
    /** The pool's resident inventories (read, never changed here). */
    private readonly inventories: ResidentInventories,
  ) {
    this.#module = module;
    this.#instance = this.#instantiate(module);
  }

  setInventory(inventory: Parameters<KernelInstance["setInventory"]>[0]): void {
    this.#instance.setInventory(inventory);
  }

  /** Runs module code (its start-up) here, on the calling thread. */
  setModule(module: WebAssembly.Module): void {
    this.#instance = this.#instantiate(module);
    this.#module = module;
  }

  /** The request was checked by the pool; its inventory is resident. */
  decide(request: KernelRequest, moduleVersion: string): Promise<KernelResult> {
    const instance = this.#instance;
    try {
      if (instance.inventory?.version !== request.inventoryVersion)
        instance.setInventory(this.inventories.get(request.inventoryVersion)!);
      return Promise.resolve(instance.decide(request, moduleVersion));
    } catch (error) {
      if (error instanceof KernelTrapError) {
        this.#instance = this.#instantiate(this.#module);
        this.traps++;
        return Promise.reject(
          new KernelTrapError(`module ${moduleVersion} trapped: ${error.message}; instance recreated`, {
            cause: error,
          }),
        );
      }
      return Promise.reject(error);
    }
  }

  /** A fresh instance holding the latest resident inventory. */
  #instantiate(module: WebAssembly.Module): KernelInstance {
    const instance = instantiateKernel(module, this.capacity);
    const latest = this.inventories.latest;
    if (latest !== undefined) instance.setInventory(latest);
    return instance;
  }
}
