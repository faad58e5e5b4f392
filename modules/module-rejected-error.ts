/** Why a module version was refused. Every check of the verification pipeline has its own reason. */
export const RejectionReason = {
  /** The manifest breaks its protovalidate rules or names another module/version than asked for. */
  InvalidManifest: "invalid_manifest",
  /** The manifest's key id is not among the trusted public keys. */
  UntrustedKey: "untrusted_key",
  BadSignature: "bad_signature",
  /** The manifest's key is on the operator's revocation list (chorus modules revoke-key). */
  RevokedKey: "revoked_key",
  /** The manifest's key is past the expiry its trusted-keys entry gives. */
  ExpiredKey: "expired_key",
  /** Fewer distinct trusted, unrevoked, unexpired keys signed it than CHORUS_MODULE_SIGNATURES_REQUIRED. */
  InsufficientSignatures: "insufficient_signatures",
  /** The bytes do not hash to the manifest's sha256 (or their length differs). */
  DigestMismatch: "digest_mismatch",
  /** `WebAssembly.validate` refuses the bytes. */
  InvalidWasm: "invalid_wasm",
  /** An import outside the module kind's allow-list (WASI, host functions). */
  ForbiddenImport: "forbidden_import",
  /** The module has a start function: instantiating it would run code outside any time limit. */
  StartFunction: "start_function",
  /** The module's memory may grow past the configured limit, or has no declared maximum at all. */
  UnboundedMemory: "unbounded_memory",
  /** A required export is missing, of the wrong kind or the wrong signature. */
  MissingExport: "missing_export",
  /** The manifest's or the module's ABI version differs from the host's. */
  AbiMismatch: "abi_mismatch",
  /** Golden inputs gave wrong results, or the module trapped on them. */
  SelfTestFailed: "self_test_failed",
  /** The self-test did not finish within its time budget (the worker running it was terminated). */
  SelfTestTimeout: "self_test_timeout",
  /** The stored object is larger than the registry's size cap: not fetched. */
  TooLarge: "too_large",
  /** No such module version in the registry. */
  NotFound: "not_found",
} as const;
export type RejectionReason = (typeof RejectionReason)[keyof typeof RejectionReason];

export class ModuleRejectedError extends Error {
  override readonly name = "ModuleRejectedError";

  constructor(
    readonly reason: RejectionReason,
    readonly module: string,
    readonly version: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${module} ${version} rejected (${reason}): ${detail}`, options);
  }
}
