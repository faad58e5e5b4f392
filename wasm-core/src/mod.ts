/** wasm-core's public API: what the gateway, the hot-swap path and the CLI import. */
export { KERNEL_ABI_VERSION, MAX_ADS } from "./kernel-abi.ts";
export { diffKernelResults, RESULT_TOLERANCE } from "./kernel-diff.ts";
export {
  KernelClosedError,
  KernelError,
  KernelErrorCode,
  KernelInputError,
  KernelInventoryMismatchError,
  KernelModuleError,
  KernelTimeoutError,
  KernelTrapError,
  KernelWorkerLostError,
} from "./kernel-errors.ts";
export { goldenCases, type KernelCase, makeInventory, makeRequest } from "./kernel-fixtures.ts";
export {
  AuctionType,
  type KernelCapacity,
  type KernelInventory,
  type KernelRequest,
  type KernelResult,
} from "./kernel-inputs.ts";
export type { KernelInstance } from "./kernel-instance.ts";
export { compileKernel, instantiateKernel, loadKernel, validateKernelModule } from "./kernel-loader.ts";
export { checkKernelOutput, KernelOutputError, kernelOutputProblem } from "./kernel-output-checks.ts";
export { DEFAULT_CAPACITY, KernelPool, type KernelPoolOptions, type KernelPoolStats } from "./kernel-pool.ts";
export { decideReference } from "./kernel-reference.ts";
export { type SelfTestReport, selfTestKernel } from "./kernel-self-test.ts";
export { type KernelVariant, kernelWasmPath, readKernelWasm } from "./kernel-wasm.ts";
export { DEFAULT_RESIDENT_INVENTORIES, ResidentInventories } from "./resident-inventories.ts";
