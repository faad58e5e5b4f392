import {
  create,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.ts";

// The request and answer oneofs are the same in v1 and v1alpha; v1's types stand for both.
type ReflectionRequest = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;
type ReflectionAnswer = v1.ServerReflectionResponse["messageResponse"];

const notFound = 5; // google.rpc.Code.NOT_FOUND, as grpc-go's reflection answers a missing name
const invalidArgument = 3;

/**
 * What reflection answers from: the served services' files and everything they import, indexed by file name and
 * by fully-qualified symbol. Built once at start; encoded descriptors are cached.
 */
export class DescriptorIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly extensions: DescExtension[] = [];
  private readonly encoded = new Map<DescFile, Uint8Array>();

  constructor(readonly services: readonly DescService[]) {
    for (const service of services) this.addFile(service.file);
  }

  answer({ messageRequest: q }: ReflectionRequest): ReflectionAnswer {
    const files = (file: DescFile | undefined, what: string): ReflectionAnswer =>
      file
        ? { case: "fileDescriptorResponse", value: create(v1.FileDescriptorResponseSchema, this.withImports(file)) }
        : error(notFound, `${what} not found`);
    switch (q.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: create(v1.ListServiceResponseSchema, { service: this.services.map((s) => ({ name: s.typeName })) }),
        };
      case "fileByFilename":
        return files(this.files.get(q.value), `file "${q.value}"`);
      case "fileContainingSymbol":
        // A member (method, field, enum value) lives in its parent's file.
        return files(
          this.symbols.get(q.value) ?? this.symbols.get(q.value.slice(0, Math.max(0, q.value.lastIndexOf(".")))),
          `symbol "${q.value}"`,
        );
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = q.value;
        const ext = this.extensions.find((e) => e.extendee.typeName === containingType && e.number === extensionNumber);
        return files(ext?.file, `extension ${extensionNumber} of "${containingType}"`);
      }
      case "allExtensionNumbersOfType":
        if (!this.symbols.has(q.value)) return error(notFound, `type "${q.value}" not found`);
        return {
          case: "allExtensionNumbersResponse",
          value: create(v1.ExtensionNumberResponseSchema, {
            baseTypeName: q.value,
            extensionNumber: this.extensions.filter((e) => e.extendee.typeName === q.value).map((e) => e.number),
          }),
        };
      default:
        return error(invalidArgument, "empty reflection request");
    }
  }

  /** The file and its transitive imports: a client can build the descriptor from one answer. */
  private withImports(file: DescFile): { fileDescriptorProto: Uint8Array[] } {
    const out = new Set<DescFile>();
    const visit = (f: DescFile) => {
      if (out.has(f)) return;
      out.add(f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return { fileDescriptorProto: [...out].map((f) => this.encode(f)) };
  }

  private encode(file: DescFile): Uint8Array {
    let bytes = this.encoded.get(file);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.encoded.set(file, bytes);
    }
    return bytes;
  }

  private addFile(file: DescFile): void {
    // DescFile.name drops ".proto"; reflection clients ask for the file name as written in imports.
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    const addEnum = (e: DescEnum) => {
      this.symbols.set(e.typeName, file);
    };
    const addExtension = (x: DescExtension) => {
      this.symbols.set(x.typeName, file);
      this.extensions.push(x);
    };
    const addMessage = (m: DescMessage) => {
      this.symbols.set(m.typeName, file);
      m.nestedMessages.forEach(addMessage);
      m.nestedEnums.forEach(addEnum);
      m.nestedExtensions.forEach(addExtension);
    };
    file.messages.forEach(addMessage);
    file.enums.forEach(addEnum);
    file.extensions.forEach(addExtension);
    for (const service of file.services) this.symbols.set(service.typeName, file);
    for (const dep of file.dependencies) this.addFile(dep);
  }
}

function error(errorCode: number, errorMessage: string): ReflectionAnswer {
  return { case: "errorResponse", value: create(v1.ErrorResponseSchema, { errorCode, errorMessage }) };
}

/** The reflection services to register: v1, and v1alpha (grpcurl and older clients still ask it). */
export const reflectionServices = [v1.ServerReflection, v1alpha.ServerReflection] as const;

/** gRPC server reflection v1, answering from the index (served services should include the reflection ones). */
export function reflectionV1(index: DescriptorIndex): ServiceImpl<typeof v1.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests)
        yield create(v1.ServerReflectionResponseSchema, {
          validHost: request.host,
          originalRequest: request,
          messageResponse: index.answer(request),
        });
    },
  };
}

/** The same for v1alpha: identical messages under another package. */
export function reflectionV1alpha(index: DescriptorIndex): ServiceImpl<typeof v1alpha.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests)
        yield create(v1alpha.ServerReflectionResponseSchema, {
          validHost: request.host,
          originalRequest: request,
          // Same field numbers and shapes; only the $typeName of the nested messages differs, which the
          // binary encoding does not carry.
          messageResponse: index.answer(request) as v1alpha.ServerReflectionResponse["messageResponse"],
        });
    },
  };
}
