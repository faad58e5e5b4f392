import { getHeapStatistics } from "node:v8";
import { signalReady } from "../child-lifecycle.ts";

/** A child for the launcher's test: says which node flags it was started with, then waits to be stopped. */
signalReady({ execArgv: process.execArgv, heapLimit: getHeapStatistics().heap_size_limit });
setInterval(() => {}, 60_000);
