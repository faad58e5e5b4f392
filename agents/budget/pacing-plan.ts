import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Campaign, PacingMode } from "../../gen/chorus/v1/campaign_pb.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Relative listening traffic per UTC hour (0-23): low at night, peaks at commute and evening. Used by
 * PACING_MODE_TRAFFIC_SHAPED unless a measured curve is configured.
 */
export const DEFAULT_TRAFFIC_CURVE: readonly number[] = [
  0.3, 0.2, 0.15, 0.12, 0.12, 0.2, 0.45, 0.8, 1, 0.9, 0.8, 0.8, 0.85, 0.85, 0.8, 0.8, 0.9, 1, 1, 0.95, 0.9, 0.8, 0.6,
  0.45,
];

/**
 * Share of the budget the plan expects spent by `atMs`, in [0, 1]: even = elapsed share of the flight, ASAP = all
 * of it at once, traffic-shaped = the share of the flight's expected traffic that has passed.
 */
export function plannedShare(
  campaign: Campaign,
  atMs: number,
  curve: readonly number[] = DEFAULT_TRAFFIC_CURVE,
): number {
  const start = campaign.startTime ? timestampMs(campaign.startTime) : 0;
  const end = campaign.endTime ? timestampMs(campaign.endTime) : Number.POSITIVE_INFINITY;
  if (campaign.pacing === PacingMode.ASAP || end <= start) return atMs >= start ? 1 : 0;
  if (atMs <= start) return 0;
  if (atMs >= end) return 1;
  if (campaign.pacing === PacingMode.TRAFFIC_SHAPED) {
    const w0 = cumulativeTraffic(start, curve);
    return (cumulativeTraffic(atMs, curve) - w0) / (cumulativeTraffic(end, curve) - w0);
  }
  return (atMs - start) / (end - start);
}

/** Integral of the hourly curve from the epoch to `ms`, in weight x ms: whole days, whole hours, then the rest. */
function cumulativeTraffic(ms: number, curve: readonly number[]): number {
  const daySum = curve.reduce((a, b) => a + b, 0) * HOUR_MS;
  const days = Math.floor(ms / DAY_MS);
  const inDay = ms - days * DAY_MS;
  const hour = Math.floor(inDay / HOUR_MS);
  let sum = days * daySum;
  for (let h = 0; h < hour; h++) sum += (curve[h] ?? 0) * HOUR_MS;
  return sum + (curve[hour] ?? 0) * (inDay - hour * HOUR_MS);
}
