/**
 * Finds a start function by walking the binary's section headers (id, LEB128 size). A start function runs
 * during instantiation, which hosts do on the loading thread outside any call time limit: a module that loops
 * there would hang the process, so modules must not have one.
 */
const START_SECTION = 8;

export function hasStartSection(bytes: Uint8Array): boolean {
  let at = 8; // magic + version
  while (at < bytes.length) {
    const id = bytes[at++]!;
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      if (byte === undefined || shift > 28) return false; // truncated: WebAssembly.validate refuses it anyway
      size |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
    }
    if (id === START_SECTION) return true;
    at += size >>> 0;
  }
  return false;
}
