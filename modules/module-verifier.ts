/**
 * The checks a module version passes before any process runs it, in order, cheapest first; the first failure
 * rejects with its reason. Run by `chorus modules publish`/`activate`/`verify` and again by every process that
 * loads the module (ModuleWatcher): a process trusts its own keys and checks, never the KV state alone.
 */
import { createValidator } from "@bufbuild/protovalidate";
import { type ModuleManifest, ModuleManifestSchema } from "../gen/chorus/v1/module_pb.ts";
import type { RevokedKeys } from "./key-revocations.ts";
import { manifestSignatures, sha256Hex, verifyManifestSignature, verifySignature } from "./manifest-signature.ts";
import type { ModuleConfig } from "./module-config.ts";
import type { CheckFailure, ModuleKind } from "./module-kind.ts";
import { ModuleRejectedError, RejectionReason } from "./module-rejected-error.ts";
import { TrustedKeys } from "./signing-keys.ts";
import { readWasmSections } from "./wasm-sections.ts";

export interface ModuleVerifierOptions {
  trustedKeys: TrustedKeys;
  /** Module kinds by module name ("kernel", agent names). */
  kinds: Readonly<Record<string, ModuleKind>>;
  selfTestBudgetMs: number;
  /**
   * Refuse modules whose memory may grow past this (bytes), or that declare no maximum: memory.grow then fails
   * inside the module instead of growing the process. Undefined or 0: not enforced.
   */
  maxMemoryBytes?: number;
  /** The operator's revocation list (KeyRevocations); a module signed by a key on it is refused. */
  revokedKeys?: RevokedKeys;
  /**
   * Distinct trusted keys (unrevoked, unexpired) whose signatures a version needs before it may take a role
   * (the N of an N-of-M rule; cosignatures via `chorus modules cosign`). Default 1: the signer's alone.
   */
  requiredSignatures?: number;
  /** For tests: the time key expiry is judged at. */
  now?: () => number;
}

export class ModuleVerifier {
  readonly #validator = createValidator();
  /** Self-test outcomes by sha256 and version: the test depends on nothing else, and costs a worker start-up. */
  readonly #selfTests = new Map<string, Promise<CheckFailure | undefined>>();

  #revokedKeys: RevokedKeys | undefined;
  #trustedKeys: TrustedKeys;

  constructor(private readonly options: ModuleVerifierOptions) {
    this.#revokedKeys = options.revokedKeys;
    this.#trustedKeys = options.trustedKeys;
  }

  /** Trusts `keys` from now on (the trusted-keys file changed: trusted-keys-file.ts); later checks use them. */
  useTrustedKeys(keys: TrustedKeys): void {
    this.#trustedKeys = keys;
  }

  /** Starts refusing modules signed by keys on `list` (a process opens the list after its verifier). */
  useRevocations(list: RevokedKeys): void {
    this.#revokedKeys = list;
  }

  /** A verifier with the process's configured trusted keys, self-test budget and memory limit. */
  static fromConfig(config: ModuleConfig, kinds: ModuleVerifierOptions["kinds"]): ModuleVerifier {
    return new ModuleVerifier({
      trustedKeys: TrustedKeys.load(config.trustedKeysFile),
      kinds,
      selfTestBudgetMs: config.selfTestBudgetMs,
      maxMemoryBytes: config.maxMemoryMb * 1024 * 1024,
      requiredSignatures: config.signaturesRequired,
    });
  }

  /** Epoch ms at which a trusted key stops being accepted (undefined: it does not expire, or is unknown). */
  keyExpiry(keyId: string): number | undefined {
    return this.#trustedKeys.expiry(keyId);
  }

  get requiredSignatures(): number {
    return Math.max(1, this.options.requiredSignatures ?? 1);
  }

  /**
   * Resolves when every check passes; rejects with ModuleRejectedError otherwise. `expected` guards against a
   * manifest moved to another name (a valid signature for "kernel 1.0.0" must not pass as "kernel 2.0.0").
   */
  async verify(
    bytes: Uint8Array,
    manifest: ModuleManifest,
    expected?: { module: string; version: string },
    /**
     * selfTest false: every check but the golden cases (replay runs a version to see what it decides).
     * quorum false: the signer's signature is enough (publication: cosigners add theirs to a stored version);
     * every role assignment and every process loading a version asks for the full quorum.
     */
    checks: { selfTest?: boolean; quorum?: boolean } = {},
  ): Promise<void> {
    const module = expected?.module ?? manifest.module;
    const version = expected?.version ?? manifest.version;
    const reject = (reason: RejectionReason, detail: string, cause?: unknown): never => {
      throw new ModuleRejectedError(reason, module, version, detail, { cause });
    };

    const validation = this.#validator.validate(ModuleManifestSchema, manifest);
    if (validation.kind !== "valid") {
      const detail =
        validation.kind === "invalid"
          ? validation.violations.map((v) => v.toString()).join("; ")
          : validation.error.message;
      reject(RejectionReason.InvalidManifest, detail);
    }
    if (expected && (manifest.module !== expected.module || manifest.version !== expected.version)) {
      reject(RejectionReason.InvalidManifest, `manifest is for ${manifest.module} ${manifest.version}`);
    }
    const kind = this.options.kinds[manifest.module];
    if (!kind) reject(RejectionReason.InvalidManifest, `unknown module "${manifest.module}"`);

    const key = this.#trustedKeys.get(manifest.keyId);
    if (!key) reject(RejectionReason.UntrustedKey, `key ${manifest.keyId} is not in CHORUS_TRUSTED_KEYS`);
    const revoked = this.#revokedKeys?.get(manifest.keyId);
    if (revoked)
      reject(
        RejectionReason.RevokedKey,
        `key ${manifest.keyId} was revoked at ${revoked.at} by ${revoked.actor}: ${revoked.reason}`,
      );
    const expires = this.#trustedKeys.expiry(manifest.keyId);
    if (expires !== undefined && (this.options.now?.() ?? Date.now()) >= expires)
      reject(RejectionReason.ExpiredKey, `key ${manifest.keyId} expired at ${new Date(expires).toISOString()}`);
    if (!verifyManifestSignature(manifest, key!)) {
      reject(RejectionReason.BadSignature, `signature does not verify with key ${manifest.keyId}`);
    }
    if (checks.quorum !== false && this.requiredSignatures > 1) {
      const { valid, ignored } = this.#signers(manifest);
      if (valid.length < this.requiredSignatures)
        reject(
          RejectionReason.InsufficientSignatures,
          `signed by ${valid.length} of the ${this.requiredSignatures} distinct trusted keys required` +
            ` (${valid.join(", ")})${ignored.length > 0 ? `; not counted: ${ignored.join("; ")}` : ""}`,
        );
    }
    const digest = sha256Hex(bytes);
    if (digest !== manifest.sha256 || BigInt(bytes.length) !== manifest.sizeBytes) {
      reject(
        RejectionReason.DigestMismatch,
        `bytes hash to ${digest} (${bytes.length} B), manifest says ${manifest.sha256}`,
      );
    }

    // Bytes from NATS are typed over ArrayBufferLike; WebAssembly reads them the same either way.
    const source = bytes as Uint8Array<ArrayBuffer>;
    if (!WebAssembly.validate(source)) reject(RejectionReason.InvalidWasm, "WebAssembly.validate refused the bytes");
    const compiled = await WebAssembly.compile(source).catch((err: unknown) =>
      reject(RejectionReason.InvalidWasm, (err as Error).message, err),
    );
    const forbidden = WebAssembly.Module.imports(compiled)
      .map((i) => `${i.module}.${i.name}`)
      .filter((name) => !kind!.allowedImports.has(name));
    if (forbidden.length > 0) {
      const allowed = kind!.allowedImports.size > 0 ? [...kind!.allowedImports].join(", ") : "nothing";
      reject(RejectionReason.ForbiddenImport, `imports ${forbidden.join(", ")}; allowed: ${allowed}`);
    }

    const sections = readWasmSections(bytes);
    if (sections.hasStart) {
      reject(RejectionReason.StartFunction, "has a start function; instantiation must not run module code");
    }
    const { maxMemoryBytes } = this.options;
    if (maxMemoryBytes !== undefined && maxMemoryBytes > 0) {
      const declared = sections.memoryMaxBytes;
      if (declared === undefined || declared > maxMemoryBytes) {
        const what = declared === undefined ? "declares no memory maximum" : `may grow its memory to ${declared} bytes`;
        reject(RejectionReason.UnboundedMemory, `${what}; the limit is ${maxMemoryBytes} bytes`);
      }
    }

    if (manifest.abiVersion !== kind!.abiVersion) {
      reject(
        RejectionReason.AbiMismatch,
        `manifest says ABI ${manifest.abiVersion}, this host speaks ${kind!.abiVersion}`,
      );
    }
    const exportFailure = await kind!.checkExports(bytes);
    if (exportFailure) reject(exportFailure.reason, exportFailure.detail);
    if (checks.selfTest === false) return;
    const cacheKey = `${digest}/${version}`;
    let selfTest = this.#selfTests.get(cacheKey);
    if (!selfTest) {
      selfTest = kind!.selfTest(bytes, version, this.options.selfTestBudgetMs);
      this.#selfTests.set(cacheKey, selfTest);
      selfTest.catch(() => this.#selfTests.delete(cacheKey));
    }
    const selfTestFailure = await selfTest;
    if (selfTestFailure) reject(selfTestFailure.reason, selfTestFailure.detail);
  }

  /**
   * Why `keyId`'s signature on `manifest` would not count towards the quorum (undefined: it counts). For
   * `chorus modules cosign`: a signature that can never count is refused rather than stored.
   */
  signatureProblem(manifest: ModuleManifest, keyId: string): string | undefined {
    const { valid, ignored } = this.#signers(manifest);
    if (valid.includes(keyId)) return undefined;
    return ignored.find((why) => why.startsWith(`${keyId} `)) ?? `${keyId} has not signed`;
  }

  /** Distinct keys whose signature on `manifest` counts (trusted, unrevoked, unexpired, verifying); why not the rest. */
  #signers(manifest: ModuleManifest): { valid: string[]; ignored: string[] } {
    const valid = new Set<string>();
    const ignored: string[] = [];
    const now = this.options.now?.() ?? Date.now();
    for (const { keyId, signature } of manifestSignatures(manifest)) {
      if (valid.has(keyId)) continue;
      const key = this.#trustedKeys.get(keyId);
      const expires = this.#trustedKeys.expiry(keyId);
      const why = !key
        ? "untrusted"
        : this.#revokedKeys?.get(keyId)
          ? "revoked"
          : expires !== undefined && now >= expires
            ? "expired"
            : !verifySignature(manifest, signature, key)
              ? "bad signature"
              : undefined;
      if (why) ignored.push(`${keyId} ${why}`);
      else valid.add(keyId);
    }
    return { valid: [...valid], ignored };
  }
}
