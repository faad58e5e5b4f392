/**
 * The signature of a manifest covers its canonical encoding: the protobuf binary of the manifest with `signature`
 * and `cosignatures` cleared, after a domain tag (so a signature over some other Chorus message can never pass as one over a
 * manifest). protobuf-es writes known fields in field-number order, so the encoding is deterministic.
 */
import { createHash, type KeyObject, sign, verify } from "node:crypto";
import { clone, create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ModuleCosignatureSchema, type ModuleManifest, ModuleManifestSchema } from "../gen/chorus/v1/module_pb.ts";
import { keyIdOf } from "./signing-keys.ts";

const DOMAIN = new TextEncoder().encode("chorus.v1.ModuleManifest\n");

export function canonicalManifestBytes(manifest: ModuleManifest): Uint8Array {
  const unsigned = clone(ModuleManifestSchema, manifest);
  unsigned.signature = new Uint8Array(0);
  unsigned.cosignatures = [];
  const body = toBinary(ModuleManifestSchema, unsigned);
  const out = new Uint8Array(DOMAIN.length + body.length);
  out.set(DOMAIN);
  out.set(body, DOMAIN.length);
  return out;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export interface ManifestFields {
  module: string;
  version: string;
  abiVersion: number;
  author: string;
  notes?: string;
  createdAt?: Date;
}

/** Builds and signs the manifest of `bytes`. */
export function signManifest(bytes: Uint8Array, fields: ManifestFields, privateKey: KeyObject): ModuleManifest {
  const manifest = create(ModuleManifestSchema, {
    module: fields.module,
    version: fields.version,
    abiVersion: fields.abiVersion,
    sha256: sha256Hex(bytes),
    keyId: keyIdOf(privateKey),
    author: fields.author,
    notes: fields.notes ?? "",
    createdAt: timestampFromDate(fields.createdAt ?? new Date()),
    sizeBytes: BigInt(bytes.length),
  });
  manifest.signature = sign(null, canonicalManifestBytes(manifest), privateKey);
  return manifest;
}

export function verifyManifestSignature(manifest: ModuleManifest, publicKey: KeyObject): boolean {
  return verifySignature(manifest, manifest.signature, publicKey);
}

/**
 * The manifest with one more signature, by `privateKey`, over the same canonical bytes (N-of-M signing: each
 * holder of a trusted key adds theirs). Signing again with a key already present replaces its signature.
 */
export function cosignManifest(manifest: ModuleManifest, privateKey: KeyObject): ModuleManifest {
  const keyId = keyIdOf(privateKey);
  const signed = clone(ModuleManifestSchema, manifest);
  signed.cosignatures = [
    ...signed.cosignatures.filter((c) => c.keyId !== keyId),
    create(ModuleCosignatureSchema, { keyId, signature: sign(null, canonicalManifestBytes(manifest), privateKey) }),
  ];
  return signed;
}

/** Every (key id, signature) pair a manifest carries: its signer's first, then the cosigners'. */
export function manifestSignatures(manifest: ModuleManifest): Array<{ keyId: string; signature: Uint8Array }> {
  return [{ keyId: manifest.keyId, signature: manifest.signature }, ...manifest.cosignatures];
}

export function verifySignature(manifest: ModuleManifest, signature: Uint8Array, publicKey: KeyObject): boolean {
  if (signature.length !== 64) return false;
  return verify(null, canonicalManifestBytes(manifest), publicKey, signature);
}
