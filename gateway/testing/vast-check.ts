import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { VASTParser } from "@dailymotion/vast-client";
import { DOMParser } from "@xmldom/xmldom";
import { repoRoot } from "../../lib/process/launcher.ts";

/** The IAB's VAST 4.2 schema in the shared material beside the clone (absent in a user's own clone). */
export const VAST_XSD = join(repoRoot, "..", "shared", "data", "vast", "vast_4.2.xsd");

/** Why schema validation cannot run here, or undefined when it can. */
export function vastSchemaUnavailable(): string | undefined {
  if (!existsSync(VAST_XSD)) return `VAST schema not found at ${VAST_XSD} (../shared is absent)`;
  if (spawnSync("xmllint", ["--version"]).status !== 0) return "xmllint not installed (Debian: libxml2-utils)";
  return undefined;
}

/** Validates a document against the IAB schema with xmllint; returns its complaints ("" when valid). */
export function xsdErrors(xml: string): string {
  const r = spawnSync("xmllint", ["--noout", "--nonet", "--schema", VAST_XSD, "-"], { input: xml, encoding: "utf8" });
  return r.status === 0 ? "" : r.stderr || `xmllint exited ${r.status}`;
}

/** Reads a VAST document as a player does, with @dailymotion/vast-client's parser. */
export async function readVast(xml: string): Promise<VastPod> {
  const doc = new DOMParser().parseFromString(xml, "text/xml");
  return new VASTParser().parseVAST(doc as unknown as Document);
}

/** The parts of vast-client's VASTResponse the specs read (its own types say `any`). */
export interface VastPod {
  version: string;
  errorURLTemplates: string[];
  ads: {
    id: string;
    sequence: number | string | null;
    adType: string;
    adServingId: string;
    system: { value: string; version: string };
    title: string;
    advertiser: { value: string } | null;
    categories: { authority: string; value: string }[];
    pricing: { value: string; model: string; currency: string } | null;
    expires: number | null;
    errorURLTemplates: string[];
    impressionURLTemplates: { id: string | null; url: string }[];
    extensions: { attributes: Record<string, string>; children: { name: string; value: unknown }[] }[];
    creatives: {
      type: string;
      duration: number;
      mediaFiles: { fileURL: string; mimeType: string; deliveryType: string; width: number; height: number }[];
      trackingEvents: Record<string, string[]>;
      videoClickThroughURLTemplate: { url: string } | null;
      videoClickTrackingURLTemplates: { id: string | null; url: string }[];
    }[];
  }[];
}

/** Replaces the VAST macros as a player does (VAST 4.2 §6.1). */
export function fillMacros(url: string, errorCode = 0): string {
  const values: Record<string, string> = {
    TIMESTAMP: encodeURIComponent(new Date().toISOString()),
    CACHEBUSTING: String(Math.floor(Math.random() * 1e8)).padStart(8, "0"),
    CONTENTPLAYHEAD: encodeURIComponent("00:01:05.250"),
    ERRORCODE: String(errorCode),
  };
  return url.replace(/(?:\[|%5B)([A-Z]+)(?:\]|%5D)/g, (m, name: string) => values[name] ?? m);
}
