/**
 * Regenerates proto-vendor/buf/validate/validate.proto from the npm package @bufbuild/protovalidate.
 *
 * Why: our .proto contracts use protovalidate annotations (`import "buf/validate/validate.proto"`). buf would
 * normally fetch that file from the Buf Schema Registry, which this machine and CI cannot reach. The npm package
 * ships generated code that embeds the complete FileDescriptorProto of buf/validate/validate.proto (minus source
 * comments, the dependency list and default json names). This script prints that descriptor back as .proto source:
 * every message, enum, oneof, extension range, reserved range/name, extension, default value, file option and field
 * option, including the `(buf.validate.predefined).cel` CEL rules carried by the rule fields.
 *
 * Usage:
 *   npm run vendor:proto              write proto-vendor/buf/validate/validate.proto
 *   npm run vendor:proto -- --check   exit 1 if the committed file differs from what would be written
 *   npm run vendor:proto -- --verify  also compile the written file with buf and compare the resulting descriptor
 *                                     with the embedded one (round trip; needs the @bufbuild/buf devDependency)
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  clearField,
  clone,
  createRegistry,
  type DescExtension,
  type DescField,
  type DescMessage,
  fromBinary,
  getExtension,
  isFieldSet,
  type Message,
  type Registry,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";
import { protoCamelCase, reflect } from "@bufbuild/protobuf/reflect";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type OneofDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outRel = "proto-vendor/buf/validate/validate.proto";
const outPath = join(root, outRel);

const require = createRequire(import.meta.url);
const pkgVersion = (
  JSON.parse(
    readFileSync(join(dirname(require.resolve("@bufbuild/protovalidate")), "..", "..", "package.json"), "utf8"),
  ) as { version: string }
).version;

/** The copyright line of the generated module we read the descriptor from, e.g. "Copyright 2024-2026 Buf ...". */
const copyright =
  /^\/\/ (Copyright .*)$/m.exec(
    readFileSync(require.resolve("@bufbuild/protovalidate/gen/buf/validate/validate_pb.js"), "utf8"),
  )?.[1] ?? "Copyright Buf Technologies, Inc.";

const file = file_buf_validate_validate;
const fd = file.proto;
/** Resolves the extensions found in options (buf.validate.predefined etc.). */
const registry: Registry = createRegistry(file);

const MAX_FIELD_NUMBER = 536870911;
const MAX_ENUM_NUMBER = 2147483647;

// ---------------------------------------------------------------------------------------------- literals

/** A .proto / text-format string literal for UTF-8 text. Printable non-ASCII characters are kept as is. */
function quoteString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\${c.toString(8).padStart(3, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A string literal for raw bytes (octal escapes for anything not printable ASCII). */
function quoteBytes(b: Uint8Array): string {
  let out = '"';
  for (const c of b) {
    if (c === 0x5c) out += "\\\\";
    else if (c === 0x22) out += '\\"';
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\${c.toString(8).padStart(3, "0")}`;
  }
  return `${out}"`;
}

function formatFloat(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Number.POSITIVE_INFINITY) return "inf";
  if (n === Number.NEGATIVE_INFINITY) return "-inf";
  return String(n);
}

function scalarLiteral(field: DescField | DescExtension, value: unknown): string {
  if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) {
    const e = field.enum;
    if (!e) throw new Error(`no enum for ${(field as DescField).name}`);
    const v = e.values.find((x) => x.number === value);
    if (!v) throw new Error(`unknown enum value ${String(value)} for ${e.typeName}`);
    return v.name;
  }
  const scalar = field.scalar;
  switch (scalar) {
    case ScalarType.STRING:
      return quoteString(value as string);
    case ScalarType.BYTES:
      return quoteBytes(value as Uint8Array);
    case ScalarType.BOOL:
      return value ? "true" : "false";
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return formatFloat(value as number);
    default:
      return String(value);
  }
}

// ---------------------------------------------------------------------------------------------- options

/** Text format body of a message value (used inside `{ ... }` of an aggregate option). */
function textFormat(msg: Message, indent: string): string[] {
  const r = reflect(descOf(msg), msg);
  if ((msg as { $unknown?: unknown[] }).$unknown?.length) {
    throw new Error(`cannot print unknown fields / extensions inside ${msg.$typeName}`);
  }
  const lines: string[] = [];
  for (const f of r.fields) {
    if (!r.isSet(f)) continue;
    const values: unknown[] = f.fieldKind === "list" ? [...(r.get(f) as Iterable<unknown>)] : [r.get(f)];
    if (f.fieldKind === "map") throw new Error(`map fields in option values are not supported (${f.name})`);
    for (const v of values) {
      const isMsg = f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message");
      if (isMsg) {
        const inner = v as { message: Message };
        lines.push(`${indent}${f.name}: {`, ...textFormat(inner.message, `${indent}  `), `${indent}}`);
      } else {
        lines.push(`${indent}${f.name}: ${scalarLiteral(f, v)}`);
      }
    }
  }
  return lines;
}

function descOf(msg: Message): DescMessage {
  const d = registry.getMessage(msg.$typeName) ?? findWkt(msg.$typeName);
  if (!d) throw new Error(`no descriptor for ${msg.$typeName}`);
  return d;
}

function findWkt(typeName: string): DescMessage | undefined {
  for (const dep of file.dependencies) {
    const d = createRegistry(dep).getMessage(typeName);
    if (d) return d;
  }
  return undefined;
}

/**
 * One entry per option assignment: `[name, valueLines]`. Message-valued extensions are spread into one assignment
 * per set sub-field (and per element of a repeated sub-field), e.g. `(buf.validate.predefined).cel = {...}` repeated,
 * which is how upstream writes them.
 */
function optionAssignments(opts: Message | undefined, schemaName: string): [string, string[]][] {
  if (!opts) return [];
  const desc = findWkt(opts.$typeName);
  if (!desc) throw new Error(`no descriptor for ${schemaName}`);
  const r = reflect(desc, opts);
  const out: [string, string[]][] = [];
  for (const f of r.fields) {
    if (f.name === "uninterpreted_option" || !r.isSet(f)) continue;
    const values: unknown[] = f.fieldKind === "list" ? [...(r.get(f) as Iterable<unknown>)] : [r.get(f)];
    for (const v of values) {
      const isMsg = f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message");
      if (isMsg) out.push([f.name, ["{", ...textFormat((v as { message: Message }).message, "  "), "}"]]);
      else if (f.fieldKind === "map") throw new Error(`map option ${f.name} not supported`);
      else out.push([f.name, [scalarLiteral(f, v)]]);
    }
  }
  const unknown = (opts as { $unknown?: { no: number }[] }).$unknown ?? [];
  const numbers = [...new Set(unknown.map((u) => u.no))];
  for (const no of numbers) {
    const ext = registry.getExtensionFor(desc, no);
    if (!ext) throw new Error(`${schemaName} carries unknown extension field ${no}`);
    const name = `(${ext.typeName})`;
    const value = getExtension(opts, ext) as unknown;
    if (ext.fieldKind === "message") {
      const m = value as Message;
      const mr = reflect(descOf(m), m);
      for (const f of mr.fields) {
        if (!mr.isSet(f)) continue;
        const vals: unknown[] = f.fieldKind === "list" ? [...(mr.get(f) as Iterable<unknown>)] : [mr.get(f)];
        for (const v of vals) {
          const isMsg = f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message");
          if (isMsg) {
            out.push([`${name}.${f.name}`, ["{", ...textFormat((v as { message: Message }).message, "  "), "}"]]);
          } else out.push([`${name}.${f.name}`, [scalarLiteral(f, v)]]);
        }
      }
      if ((m as { $unknown?: unknown[] }).$unknown?.length) throw new Error(`unknown fields inside ${name}`);
    } else if (ext.fieldKind === "list") {
      for (const v of value as unknown[]) {
        if (ext.listKind === "message") out.push([name, ["{", ...textFormat(v as Message, "  "), "}"]]);
        else out.push([name, [scalarLiteral(ext, v)]]);
      }
    } else {
      out.push([name, [scalarLiteral(ext, value)]]);
    }
  }
  return out;
}

/** `option name = value;` statements. */
function optionStatements(opts: Message | undefined, schemaName: string, indent: string): string[] {
  const lines: string[] = [];
  for (const [name, value] of optionAssignments(opts, schemaName)) {
    const [first, ...rest] = value;
    if (rest.length === 0) lines.push(`${indent}option ${name} = ${first};`);
    else {
      lines.push(`${indent}option ${name} = ${first}`);
      rest.forEach((l, i) => {
        lines.push(`${indent}${l}${i === rest.length - 1 ? ";" : ""}`);
      });
    }
  }
  return lines;
}

/** Compact `[a = b, c = d]` suffix, multi-line when an option value spans lines. Returns lines to append. */
function bracketOptions(assignments: [string, string[]][], indent: string): string[] {
  if (assignments.length === 0) return [];
  if (assignments.every(([, v]) => v.length === 1)) {
    return [` [${assignments.map(([n, v]) => `${n} = ${v[0]}`).join(", ")}]`];
  }
  const lines: string[] = [" ["];
  assignments.forEach(([n, v], i) => {
    const sep = i === assignments.length - 1 ? "" : ",";
    const [first, ...rest] = v;
    if (rest.length === 0) lines.push(`${indent}  ${n} = ${first}${sep}`);
    else {
      lines.push(`${indent}  ${n} = ${first}`);
      rest.forEach((l, j) => {
        lines.push(`${indent}  ${l}${j === rest.length - 1 ? sep : ""}`);
      });
    }
  });
  lines.push(`${indent}]`);
  return lines;
}

// ---------------------------------------------------------------------------------------------- declarations

const T = FieldDescriptorProto_Type;
const scalarNames: Partial<Record<FieldDescriptorProto_Type, string>> = {
  [T.DOUBLE]: "double",
  [T.FLOAT]: "float",
  [T.INT64]: "int64",
  [T.UINT64]: "uint64",
  [T.INT32]: "int32",
  [T.FIXED64]: "fixed64",
  [T.FIXED32]: "fixed32",
  [T.BOOL]: "bool",
  [T.STRING]: "string",
  [T.BYTES]: "bytes",
  [T.UINT32]: "uint32",
  [T.SFIXED32]: "sfixed32",
  [T.SFIXED64]: "sfixed64",
  [T.SINT32]: "sint32",
  [T.SINT64]: "sint64",
};

/** Nested type lookup by fully-qualified name, to recognise map entries. */
const messagesByName = new Map<string, DescriptorProto>();
function indexMessages(prefix: string, list: DescriptorProto[]): void {
  for (const m of list) {
    const name = `${prefix}.${m.name}`;
    messagesByName.set(name, m);
    indexMessages(name, m.nestedType);
  }
}
indexMessages(fd.package ? `.${fd.package}` : "", fd.messageType);

function isMapEntry(m: DescriptorProto | undefined): boolean {
  return m?.options?.mapEntry === true;
}

function typeOf(f: FieldDescriptorProto): string {
  if (f.type === T.MESSAGE || f.type === T.ENUM) return f.typeName;
  if (f.type === T.GROUP) throw new Error(`groups are not supported (${f.name})`);
  const s = scalarNames[f.type];
  if (!s) throw new Error(`unknown field type ${f.type}`);
  return s;
}

function defaultLiteral(f: FieldDescriptorProto): string {
  const v = f.defaultValue;
  switch (f.type) {
    case T.STRING:
      return quoteString(v);
    case T.BYTES:
      return `"${v}"`; // already C-escaped by protoc
    default:
      return v; // numbers, bool, enum value names, inf / -inf / nan
  }
}

function fieldLine(f: FieldDescriptorProto, indent: string, inOneof: boolean): string[] {
  const entry = f.type === T.MESSAGE ? messagesByName.get(f.typeName) : undefined;
  let decl: string;
  if (f.label === FieldDescriptorProto_Label.REPEATED && isMapEntry(entry) && entry) {
    const [k, v] = [entry.field.find((x) => x.number === 1), entry.field.find((x) => x.number === 2)];
    if (!k || !v) throw new Error(`bad map entry ${f.typeName}`);
    decl = `map<${typeOf(k)}, ${typeOf(v)}> ${f.name} = ${f.number}`;
  } else {
    const label = inOneof
      ? ""
      : f.label === FieldDescriptorProto_Label.REPEATED
        ? "repeated "
        : f.label === FieldDescriptorProto_Label.REQUIRED
          ? "required "
          : "optional ";
    decl = `${label}${typeOf(f)} ${f.name} = ${f.number}`;
  }
  const pseudo: [string, string[]][] = [];
  if (isFieldSet(f, FieldDescriptorProtoSchema.field.defaultValue)) pseudo.push(["default", [defaultLiteral(f)]]);
  if (f.jsonName && f.jsonName !== protoCamelCase(f.name)) pseudo.push(["json_name", [quoteString(f.jsonName)]]);
  const opts = [...pseudo, ...optionAssignments(f.options, `${f.name} options`)];
  const suffix = bracketOptions(opts, indent);
  if (suffix.length === 0) return [`${indent}${decl};`];
  const [first, ...rest] = suffix;
  if (rest.length === 0) return [`${indent}${decl}${first};`];
  return [`${indent}${decl}${first}`, ...rest.slice(0, -1), `${rest[rest.length - 1]};`];
}

function rangeEnd(endExclusive: number, max: number): string {
  return endExclusive - 1 === max ? "max" : String(endExclusive - 1);
}

function rangeText(start: number, endInclusiveText: string): string {
  return endInclusiveText === String(start) ? String(start) : `${start} to ${endInclusiveText}`;
}

function enumBlock(e: EnumDescriptorProto, indent: string): string[] {
  const lines = [`${indent}enum ${e.name} {`];
  lines.push(...optionStatements(e.options, `${e.name} options`, `${indent}  `));
  for (const v of e.value) {
    const suffix = bracketOptions(optionAssignments(v.options, `${v.name} options`), `${indent}  `);
    const decl = `${indent}  ${v.name} = ${v.number}`;
    if (suffix.length <= 1) lines.push(`${decl}${suffix[0] ?? ""};`);
    else lines.push(`${decl}${suffix[0]}`, ...suffix.slice(1, -1), `${suffix[suffix.length - 1]};`);
  }
  if (e.reservedRange.length) {
    lines.push(
      `${indent}  reserved ${e.reservedRange
        .map((r) => rangeText(r.start, r.end === MAX_ENUM_NUMBER ? "max" : String(r.end)))
        .join(", ")};`,
    );
  }
  if (e.reservedName.length) lines.push(`${indent}  reserved ${e.reservedName.map(quoteString).join(", ")};`);
  lines.push(`${indent}}`);
  return lines;
}

function extendBlocks(exts: FieldDescriptorProto[], indent: string): string[] {
  const lines: string[] = [];
  const byExtendee = new Map<string, FieldDescriptorProto[]>();
  for (const x of exts) {
    const list = byExtendee.get(x.extendee) ?? [];
    list.push(x);
    byExtendee.set(x.extendee, list);
  }
  for (const [extendee, list] of byExtendee) {
    lines.push(`${indent}extend ${extendee} {`);
    for (const x of list) lines.push(...fieldLine(x, `${indent}  `, false));
    lines.push(`${indent}}`, "");
  }
  if (lines.length) lines.pop();
  return lines;
}

function oneofBlock(o: OneofDescriptorProto, fields: FieldDescriptorProto[], indent: string): string[] {
  const lines = [`${indent}oneof ${o.name} {`];
  lines.push(...optionStatements(o.options, `${o.name} options`, `${indent}  `));
  for (const f of fields) lines.push(...fieldLine(f, `${indent}  `, true));
  lines.push(`${indent}}`);
  return lines;
}

function messageBlock(m: DescriptorProto, indent: string): string[] {
  const inner = `${indent}  `;
  const lines = [`${indent}message ${m.name} {`];
  const body: string[][] = [];
  const opts = optionStatements(m.options, `${m.name} options`, inner);
  if (opts.length) body.push(opts);

  const fieldLines: string[] = [];
  const printedOneofs = new Set<number>();
  for (const f of m.field) {
    const oi = f.oneofIndex;
    if (hasOneof(f)) {
      if (printedOneofs.has(oi)) continue;
      printedOneofs.add(oi);
      const o = m.oneofDecl[oi];
      if (!o) throw new Error(`bad oneof index in ${m.name}`);
      fieldLines.push(
        ...oneofBlock(
          o,
          m.field.filter((x) => x.oneofIndex === oi && hasOneof(x)),
          inner,
        ),
      );
    } else {
      fieldLines.push(...fieldLine(f, inner, false));
    }
  }
  if (fieldLines.length) body.push(fieldLines);

  for (const n of m.nestedType) if (!isMapEntry(n)) body.push(messageBlock(n, inner));
  for (const e of m.enumType) body.push(enumBlock(e, inner));
  if (m.extensionRange.length) {
    const ext: string[] = [];
    for (const r of m.extensionRange) {
      const suffix = bracketOptions(optionAssignments(r.options, `${m.name} extension range options`), inner);
      const decl = `${inner}extensions ${rangeText(r.start, rangeEnd(r.end, MAX_FIELD_NUMBER))}`;
      if (suffix.length <= 1) ext.push(`${decl}${suffix[0] ?? ""};`);
      else ext.push(`${decl}${suffix[0]}`, ...suffix.slice(1, -1), `${suffix[suffix.length - 1]};`);
    }
    body.push(ext);
  }
  const reserved: string[] = [];
  if (m.reservedRange.length) {
    reserved.push(
      `${inner}reserved ${m.reservedRange.map((r) => rangeText(r.start, rangeEnd(r.end, MAX_FIELD_NUMBER))).join(", ")};`,
    );
  }
  if (m.reservedName.length) reserved.push(`${inner}reserved ${m.reservedName.map(quoteString).join(", ")};`);
  if (reserved.length) body.push(reserved);
  if (m.extension.length) body.push(extendBlocks(m.extension, inner));

  body.forEach((b, i) => {
    if (i > 0) lines.push("");
    lines.push(...b);
  });
  lines.push(`${indent}}`);
  return lines;
}

function hasOneof(f: FieldDescriptorProto): boolean {
  return isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) && !f.proto3Optional;
}

// ---------------------------------------------------------------------------------------------- file

function render(): string {
  if (fd.syntax !== "" && fd.syntax !== "proto2") throw new Error(`unexpected syntax ${fd.syntax}`);
  const out: string[] = [
    `// Code generated by \`npm run vendor:proto\` (scripts/vendor-protovalidate.ts). DO NOT EDIT.`,
    "//",
    `// Source: the npm package @bufbuild/protovalidate@${pkgVersion}, which embeds the FileDescriptorProto of`,
    "// buf/validate/validate.proto in dist/esm/gen/buf/validate/validate_pb.js. This file is that descriptor printed",
    "// back as .proto source (comments are not part of the descriptor and are therefore absent).",
    "//",
    `// Original work: ${copyright} (protovalidate, https://github.com/bufbuild/protovalidate)`,
    '// Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except in',
    "// compliance with the License. You may obtain a copy of the License at",
    "//",
    "//      http://www.apache.org/licenses/LICENSE-2.0",
    "//",
    "// Unless required by applicable law or agreed to in writing, software distributed under the License is",
    '// distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.',
    "// See the License for the specific language governing permissions and limitations under the License.",
    "",
    'syntax = "proto2";',
    "",
    `package ${fd.package};`,
    "",
  ];
  for (const dep of file.dependencies) out.push(`import "${dep.name}.proto";`);
  out.push("");
  const fileOpts = optionStatements(fd.options, "file options", "");
  if (fileOpts.length) out.push(...fileOpts, "");
  if (fd.extension.length) out.push(...extendBlocks(fd.extension, ""), "");
  for (const m of fd.messageType) out.push(...messageBlock(m, ""), "");
  for (const e of fd.enumType) out.push(...enumBlock(e, ""), "");
  if (fd.service.length) throw new Error("services are not supported");
  while (out[out.length - 1] === "") out.pop();
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------- verify

/** Compiles the written file with buf and compares its descriptor with the embedded one. */
function verify(): void {
  const dir = mkdtempSync(join(tmpdir(), "vendor-protovalidate-"));
  try {
    const image = join(dir, "image.binpb");
    const buf = join(root, "node_modules", ".bin", "buf");
    execFileSync(
      buf,
      ["build", join(root, "proto-vendor"), "--exclude-source-info", "--as-file-descriptor-set", "-o", image],
      { stdio: "inherit" },
    );
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(image));
    const built = set.file.find((f) => f.name === "buf/validate/validate.proto");
    if (!built) throw new Error("buf/validate/validate.proto missing from buf build output");
    const reg = createRegistry(file);
    const opts = { registry: reg };
    // Normalise the same way protobuf-es embeds descriptors: no dependency list, no default json names.
    const strip = (p: typeof built) => {
      const c = clone(FileDescriptorProtoSchema, p);
      clearField(c, FileDescriptorProtoSchema.field.dependency);
      clearField(c, FileDescriptorProtoSchema.field.sourceCodeInfo);
      const stripJson = (fs: FieldDescriptorProto[]) => {
        for (const f of fs) {
          if (f.jsonName === protoCamelCase(f.name)) clearField(f, FieldDescriptorProtoSchema.field.jsonName);
        }
      };
      const walk = (ms: DescriptorProto[]) => {
        for (const m of ms) {
          stripJson(m.field);
          stripJson(m.extension);
          walk(m.nestedType);
        }
      };
      walk(c.messageType);
      stripJson(c.extension);
      return JSON.stringify(toJson(FileDescriptorProtoSchema, c, opts), null, 1);
    };
    const a = strip(built);
    const b = strip(fd);
    if (a !== b) {
      writeFileSync(join(dir, "built.json"), a);
      writeFileSync(join(dir, "embedded.json"), b);
      throw new Error(`round trip mismatch; see ${dir}/built.json vs ${dir}/embedded.json`);
    }
    console.log("verify: descriptor compiled by buf matches the embedded descriptor");
    rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    console.error(e);
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------- main

const text = render();
if (process.argv.includes("--check")) {
  const current = existsSync(outPath) ? readFileSync(outPath, "utf8") : "";
  if (current !== text) {
    console.error(`${outRel} is out of date; run npm run vendor:proto`);
    process.exit(1);
  }
  console.log(`${outRel} is up to date`);
} else {
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, text);
  console.log(`wrote ${outRel} from @bufbuild/protovalidate@${pkgVersion}`);
}
if (process.argv.includes("--verify")) verify();
