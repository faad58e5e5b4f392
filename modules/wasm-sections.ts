/**
 * What the JS API cannot tell about a module before running it, read from the binary's sections (id, LEB128
 * size): whether it has a start function (code that runs during instantiation, on the loading thread, outside
 * any call time limit) and the maximum its memory may grow to (absent = up to 4 GiB).
 */
const MEMORY_SECTION = 5;
const START_SECTION = 8;
const PAGE_BYTES = 65_536;

export interface WasmSections {
  hasStart: boolean;
  /** Declared maximum of the module's own memory in bytes; undefined when it declares none (or has no memory). */
  memoryMaxBytes: number | undefined;
}

/** Assumes bytes that WebAssembly.validate accepted. */
export function readWasmSections(bytes: Uint8Array): WasmSections {
  let at = 8; // magic + version
  const u32 = (): number => {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
    }
  };
  const out: WasmSections = { hasStart: false, memoryMaxBytes: undefined };
  while (at < bytes.length) {
    const id = bytes[at++]!;
    const size = u32();
    const end = at + size;
    if (id === START_SECTION) out.hasStart = true;
    if (id === MEMORY_SECTION && u32() > 0) {
      const flags = bytes[at++]!;
      u32(); // minimum pages
      if (flags & 1) out.memoryMaxBytes = u32() * PAGE_BYTES;
    }
    at = end;
  }
  return out;
}
