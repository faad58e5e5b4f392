import { readFileSync } from "node:fs";
import { build, type Histogram } from "hdr-histogram-js";
import type { KernelRequest } from "../../wasm-core/src/kernel-inputs.ts";
import type { KernelPool } from "../../wasm-core/src/kernel-pool.ts";

/**
 * The kernel bench's load drivers: open loop at a fixed arrival rate (latency from each arrival's scheduled time)
 * and one decision at a time, each measured with the main thread's starvation and the pool workers' CPU.
 */
export interface LatencyRow {
  mode: string;
  /** Which pass over the modes this row belongs to. */
  run: number;
  /** Arrivals per second; 0 = closed loop, one decision in flight. */
  ratePerSecond: number;
  decisions: number;
  failed: number;
  p50us: number;
  p90us: number;
  p99us: number;
  p999us: number;
  maxUs: number;
  achievedPerSecond: number;
  mainThreadRunnableButWaitingShare: number;
  /** CPU of the process minus the main thread's, as a share of one core: what the workers burn (spin included). */
  workerCpuShare: number;
  /** Share of decisions handed to a sleeping worker (a futex wake-up each); 0 inline. */
  wokenShare: number;
}

/** On-CPU and runnable-but-waiting ns of the calling thread (Linux schedstat; zeros elsewhere). */
function threadSchedNs(): { onCpu: number; waiting: number } {
  try {
    const [onCpu, waiting] = readFileSync("/proc/thread-self/schedstat", "utf8").split(" ");
    return { onCpu: Number(onCpu), waiting: Number(waiting) };
  } catch {
    return { onCpu: 0, waiting: 0 };
  }
}

/** Measures a run: elapsed seconds, starvation of the main thread, the workers' CPU and how often they were asleep. */
function runMeter(pool: KernelPool): (decisions: number) => {
  elapsedS: number;
  starvedShare: number;
  workerCpuShare: number;
  wokenShare: number;
} {
  const sched = threadSchedNs();
  const cpu = process.cpuUsage();
  const wakeups = pool.stats().wakeups;
  const start = process.hrtime.bigint();
  return (decisions) => {
    const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
    const after = threadSchedNs();
    const used = process.cpuUsage(cpu);
    const processS = (used.user + used.system) / 1e6;
    const mainS = (after.onCpu - sched.onCpu) / 1e9;
    return {
      elapsedS,
      starvedShare: (after.waiting - sched.waiting) / 1e9 / elapsedS,
      workerCpuShare: Math.max(0, processS - mainS) / elapsedS,
      wokenShare: (pool.stats().wakeups - wakeups) / decisions,
    };
  };
}

/** Open loop: issue every arrival whose time has come, measure from its scheduled time, never wait for answers. */
export async function openLoop(
  pool: KernelPool,
  requests: KernelRequest[],
  rate: number,
  seconds: number,
): Promise<Omit<LatencyRow, "mode" | "run">> {
  const histogram = nsHistogram();
  const intervalNs = 1e9 / rate;
  const total = Math.round(rate * seconds);
  const meter = runMeter(pool);
  const start = process.hrtime.bigint();
  let issued = 0;
  let done = 0;
  let failed = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = Number(process.hrtime.bigint() - start);
      while (issued < total && issued * intervalNs <= now) {
        const scheduled = issued * intervalNs;
        pool.decide(requests[issued % requests.length]!).then(
          () => {
            histogram.recordValue(Math.max(100, Number(process.hrtime.bigint() - start) - scheduled));
            if (++done === total) resolve();
          },
          () => {
            failed++;
            if (++done === total) resolve();
          },
        );
        issued++;
      }
      if (issued < total) setImmediate(tick);
    };
    tick();
  });
  return latencyRow(histogram, meter(total), rate, total, failed);
}

/** Closed loop, one decision in flight: the pool's round trip with no queueing at all (reported as rate 0). */
export async function oneAtATime(
  pool: KernelPool,
  requests: KernelRequest[],
  count: number,
): Promise<Omit<LatencyRow, "mode" | "run">> {
  const histogram = nsHistogram();
  const meter = runMeter(pool);
  for (let i = 0; i < count; i++) {
    const issued = process.hrtime.bigint();
    await pool.decide(requests[i % requests.length]!);
    histogram.recordValue(Math.max(100, Number(process.hrtime.bigint() - issued)));
  }
  return latencyRow(histogram, meter(count), 0, count, 0);
}

/** Latencies in ns, 100 ns to 60 s, 3 significant digits. */
function nsHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 100, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3 });
}

/** One table row from a run's histogram (freed here) and its meter reading. */
function latencyRow(
  histogram: Histogram,
  measured: ReturnType<ReturnType<typeof runMeter>>,
  rate: number,
  decisions: number,
  failed: number,
): Omit<LatencyRow, "mode" | "run"> {
  const us = (percentile: number) => histogram.getValueAtPercentile(percentile) / 1000;
  const row = {
    ratePerSecond: rate,
    decisions,
    failed,
    p50us: us(50),
    p90us: us(90),
    p99us: us(99),
    p999us: us(99.9),
    maxUs: histogram.maxValue / 1000,
    achievedPerSecond: decisions / measured.elapsedS,
    mainThreadRunnableButWaitingShare: measured.starvedShare,
    workerCpuShare: measured.workerCpuShare,
    wokenShare: measured.wokenShare,
  };
  histogram.destroy();
  return row;
}
