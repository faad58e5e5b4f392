import { create } from "@bufbuild/protobuf";
import { type CandidateVeto, CandidateVetoSchema } from "../../gen/chorus/v1/agent_pb.ts";
import type { UserProfile } from "../../gen/chorus/v1/agent_signals_pb.ts";
import type { Campaign } from "../../gen/chorus/v1/campaign_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import { campaignSlots } from "../../lib/catalog/campaign-slots.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { checkFrequencyCap, type Ineligibility, TARGETING_RULES, type TargetingMoment, utcHour } from "./targeting.ts";

/** One rule's verdicts on every campaign for one key: the campaigns it excludes, and their vetoes once made. */
interface RuleVerdicts {
  readonly excluded: readonly number[];
  readonly why: (Ineligibility | undefined)[];
  /** Per candidate, created on first use and then shared by every vote (read-only). */
  readonly vetoes: (CandidateVeto | undefined)[];
}

/** Keys remembered per rule before the memo starts over (taste keys vary per listener). */
const MAX_KEYS_PER_RULE = 4_096;

/**
 * checkTargeting over a whole inventory, compiled: campaigns once (the rules read the campaign, never the
 * creative), and each rule's verdicts memoised per rule key (targeting.ts TargetingRule.key), so a decide costs a
 * few lookups plus a pass over the excluded campaigns. Same vetoes, reasons and details as checkTargeting.
 */
export class TargetingIndex {
  private readonly campaigns: readonly Campaign[];
  private readonly campaignSlot: ReadonlyMap<string, number>;
  /** Campaign slot per candidate. */
  private readonly slotOf: Uint32Array;
  private readonly verdicts = TARGETING_RULES.map(() => new Map<string, RuleVerdicts>());
  /** Frequency cap vetoes by detail, then candidate (see capVeto). */
  private readonly capVetoes = new Map<string, { reason: Ineligibility["reason"]; vetoes: CandidateVeto[] }>();

  private constructor(private readonly inventory: Inventory) {
    const slots = campaignSlots(inventory);
    this.campaigns = slots.campaigns;
    this.campaignSlot = slots.slotById;
    this.slotOf = slots.slotOf;
  }

  private static readonly byInventory = new WeakMap<Inventory, TargetingIndex>();

  static of(inventory: Inventory): TargetingIndex {
    let index = TargetingIndex.byInventory.get(inventory);
    if (!index) {
      index = new TargetingIndex(inventory);
      TargetingIndex.byInventory.set(inventory, index);
    }
    return index;
  }

  /** The vetoes checkTargeting gives each candidate, in candidate order. */
  vetoes(request: DecideRequest, profile: UserProfile | undefined, nowMs: number): CandidateVeto[] {
    const moment: TargetingMoment = { request, profile, hour: utcHour(nowMs) };
    const first: (RuleVerdicts | undefined)[] = new Array(this.campaigns.length);
    let excluded = 0;
    for (let r = 0; r < TARGETING_RULES.length; r++) {
      const v = this.verdictsFor(r, moment);
      for (const slot of v.excluded) {
        if (first[slot]) continue;
        first[slot] = v;
        excluded++;
      }
    }
    const capped = new Map<number, Ineligibility>();
    const checked = new Set<number>();
    for (const h of profile?.impressions ?? []) {
      const slot = this.campaignSlot.get(h.campaignId);
      // checkTargeting looks at the first history of a campaign only.
      if (slot === undefined || first[slot] || checked.has(slot)) continue;
      checked.add(slot);
      const no = checkFrequencyCap(this.campaigns[slot]!, h, nowMs);
      if (no) capped.set(slot, no);
    }
    const out: CandidateVeto[] = [];
    if (excluded === 0 && capped.size === 0) return out;
    const candidates = this.inventory.size;
    for (let c = 0; c < candidates; c++) {
      const slot = this.slotOf[c]!;
      const v = first[slot];
      if (v) {
        const veto = v.vetoes[c] ?? create(CandidateVetoSchema, { candidate: c, ...v.why[slot]! });
        v.vetoes[c] = veto;
        out.push(veto);
      } else {
        const cap = capped.get(slot);
        if (cap) out.push(this.capVeto(c, cap));
      }
    }
    return out;
  }

  /**
   * A frequency cap's veto of candidate `c`: its content is the candidate and the cap's reason and detail (the
   * count, window and maximum), so it is made once per detail and candidate and then shared like the rules' vetoes
   * (read-only). Creating one per capped candidate per vote was a third of the vetoes' cost.
   */
  private capVeto(c: number, cap: Ineligibility): CandidateVeto {
    let byCandidate = this.capVetoes.get(cap.detail);
    if (!byCandidate || byCandidate.reason !== cap.reason) {
      if (this.capVetoes.size >= MAX_KEYS_PER_RULE) this.capVetoes.clear();
      byCandidate = { reason: cap.reason, vetoes: [] };
      this.capVetoes.set(cap.detail, byCandidate);
    }
    let veto = byCandidate.vetoes[c];
    if (!veto) {
      veto = create(CandidateVetoSchema, { candidate: c, ...cap });
      byCandidate.vetoes[c] = veto;
    }
    return veto;
  }

  private verdictsFor(rule: number, moment: TargetingMoment): RuleVerdicts {
    const memo = this.verdicts[rule]!;
    const key = TARGETING_RULES[rule]!.key(moment);
    let v = memo.get(key);
    if (!v) {
      if (memo.size >= MAX_KEYS_PER_RULE) memo.clear();
      const why = this.campaigns.map((campaign) =>
        campaign.targeting ? TARGETING_RULES[rule]!.check(campaign.targeting, moment) : undefined,
      );
      const excluded: number[] = [];
      for (let slot = 0; slot < why.length; slot++) if (why[slot]) excluded.push(slot);
      v = { excluded, why, vetoes: [] };
      memo.set(key, v);
    }
    return v;
  }
}
