import { Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import type { Candidate, Inventory } from "../../lib/catalog/inventory.ts";
import { featureSlot, topLevelCategory } from "../../lib/features/feature-space.ts";

/** Size of the hashed feature space of the response model. */
export const MODEL_SIZE = 4096;

/**
 * Prior response rates: the model learns a correction to these (an offset in logit space), so an untrained model
 * predicts plausible rates instead of 0.5. Impressions are the response for impression goals (rate 1).
 */
const PRIOR_RATE: Record<Goal, number> = {
  [Goal.UNSPECIFIED]: 1,
  [Goal.IMPRESSIONS]: 1,
  [Goal.COMPLETIONS]: 0.6,
  [Goal.CLICKS]: 0.02,
  [Goal.CONVERSIONS]: 0.002,
};

export function priorRate(goal: Goal): number {
  return PRIOR_RATE[goal] ?? 1;
}

const priorLogits = new Map<Goal, number>();

/** The prior rate in logit space (memoised: a vote needs it per candidate). */
export function priorLogit(goal: Goal): number {
  let logit = priorLogits.get(goal);
  if (logit === undefined) {
    const r = Math.min(0.999, priorRate(goal));
    logit = Math.log(r / (1 - r));
    priorLogits.set(goal, logit);
  }
  return logit;
}

/**
 * Hashed binary features of (request, candidate): the candidate, its category crossed with the moment. The order
 * is the model's (the logit sums the weights in this order).
 */
export function responseFeatures(request: DecideRequest, candidate: Candidate, nowMs: number): number[] {
  const cat = categoryOf(candidate);
  const m = momentOf(request, nowMs);
  const goal = candidate.campaign.goal;
  const names = [
    ...candidateNames(candidate),
    categoryGenreName(cat, m),
    formatDeviceName(candidate.creative.format, m),
    categoryDaypartName(cat, m),
    goalGenreName(goal, m),
  ];
  return names.map(slot);
}

interface Moment {
  genre: string;
  device: number;
  foreground: 0 | 1;
  daypart: number;
}

const slot = (name: string) => featureSlot(name, MODEL_SIZE).index;
const categoryOf = (candidate: Candidate) => topLevelCategory(candidate.creative.iabCategory || "none");
const candidateNames = (c: Candidate) => [`bias:${c.campaign.goal}`, `cr:${c.creative.id}`, `cmp:${c.campaign.id}`];
const categoryGenreName = (cat: string, m: Moment) => `cat:${cat}|genre:${m.genre}`;
const formatDeviceName = (format: number, m: Moment) => `fmt:${format}|dev:${m.device}|fg:${m.foreground}`;
const categoryDaypartName = (cat: string, m: Moment) => `cat:${cat}|dp:${m.daypart}`;
const goalGenreName = (goal: Goal, m: Moment) => `goal:${goal}|genre:${m.genre}`;

function momentOf(request: DecideRequest, nowMs: number): Moment {
  return {
    genre: request.context?.genre.toLowerCase() || "none",
    device: request.device?.type ?? 0,
    foreground: request.device?.foreground ? 1 : 0,
    daypart: Math.floor(new Date(nowMs).getUTCHours() / 6),
  };
}

/**
 * The candidate side of responseFeatures, once per inventory: each candidate's candidate-only slots, and indices
 * into the distinct categories, formats and goals that the moment's features cross with.
 */
export interface CandidateFeatures {
  staticSlots: readonly (readonly number[])[];
  goal: Goal[];
  categories: string[];
  formats: number[];
  goals: Goal[];
  category: Uint16Array;
  format: Uint16Array;
  goalIndex: Uint16Array;
}

const featuresByInventory = new WeakMap<Inventory, CandidateFeatures>();

export function candidateFeatures(inventory: Inventory): CandidateFeatures {
  let f = featuresByInventory.get(inventory);
  if (f) return f;
  const n = inventory.size;
  const index = <T>(list: T[], value: T) => {
    const i = list.indexOf(value);
    return i >= 0 ? i : list.push(value) - 1;
  };
  f = {
    staticSlots: [],
    goal: [],
    categories: [],
    formats: [],
    goals: [],
    category: new Uint16Array(n),
    format: new Uint16Array(n),
    goalIndex: new Uint16Array(n),
  };
  for (const c of inventory.candidates) {
    (f.staticSlots as number[][]).push(candidateNames(c).map(slot));
    f.goal.push(c.campaign.goal);
    f.category[c.index] = index(f.categories, categoryOf(c));
    f.format[c.index] = index(f.formats, c.creative.format);
    f.goalIndex[c.index] = index(f.goals, c.campaign.goal);
  }
  featuresByInventory.set(inventory, f);
  return f;
}

export interface MomentFeatureSlots {
  readonly categoryGenre: readonly number[];
  readonly formatDevice: readonly number[];
  readonly categoryDaypart: readonly number[];
  readonly goalGenre: readonly number[];
}

/** Slots per candidate features and moment (genre, device, foreground, daypart); a bounded memo. */
const momentSlots = new WeakMap<CandidateFeatures, Map<string, MomentFeatureSlots>>();
const MAX_MOMENTS = 4_096;

/**
 * The moment side of responseFeatures: one slot per distinct category, format and goal, in their order. The slots
 * are a function of the inventory's features and the moment's four fields, of which there are few combinations:
 * remembered, instead of building and hashing a name per category, format and goal on every vote. Read-only.
 */
export function momentFeatureSlots(request: DecideRequest, nowMs: number, f: CandidateFeatures): MomentFeatureSlots {
  const m = momentOf(request, nowMs);
  let memo = momentSlots.get(f);
  if (!memo) {
    memo = new Map();
    momentSlots.set(f, memo);
  }
  const key = `${m.genre}|${m.device}|${m.foreground}|${m.daypart}`;
  let slots = memo.get(key);
  if (!slots) {
    if (memo.size >= MAX_MOMENTS) memo.clear();
    slots = {
      categoryGenre: f.categories.map((cat) => slot(categoryGenreName(cat, m))),
      formatDevice: f.formats.map((format) => slot(formatDeviceName(format, m))),
      categoryDaypart: f.categories.map((cat) => slot(categoryDaypartName(cat, m))),
      goalGenre: f.goals.map((goal) => slot(goalGenreName(goal, m))),
    };
    memo.set(key, slots);
  }
  return slots;
}
