/**
 * How many field-2 entries (DecideResponse.ads) a message has, walking only its top-level fields; -1 when the
 * bytes are not a well-formed message.
 */
export function countField2(bytes: Uint8Array, start: number, end = bytes.length): number {
  let pos = start;
  let count = 0;
  const varint = () => {
    let value = 0;
    let shift = 1;
    for (;;) {
      if (pos >= end) return -1;
      const b = bytes[pos++]!;
      value += (b & 0x7f) * shift;
      if (b < 0x80) return value;
      shift *= 128;
    }
  };
  while (pos < end) {
    const tag = varint();
    if (tag < 0) return -1;
    switch (tag & 7) {
      case 0:
        if (varint() < 0) return -1;
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = varint();
        if (length < 0) return -1;
        pos += length;
        if (tag >>> 3 === 2) count++;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        return -1;
    }
  }
  return pos === end ? count : -1;
}
