/**
 * HPACK's Huffman code (RFC 7541, Appendix B), decoding only: the length of each symbol's code, symbols 0-255 and
 * EOS (256). The code is canonical (codes of one length are consecutive, in symbol order), so the lengths alone
 * define it. Checked against nghttp2's encoder in hpack-decoder.spec.ts.
 */
const CODE_LENGTHS =
  "13,23,28,28,28,28,28,28,28,24,30,28,28,30,28,28,28,28,28,28,28,28,30,28,28,28,28,28,28,28,28,28,6,10,10,12,13,6,8,11,10,10,8,11,8,6,6,6,5,5,5,6,6,6,6,6,6,6,7,8,15,6,12,10,13,6,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,8,7,8,13,19,13,14,6,15,5,6,5,6,5,6,6,6,5,7,7,6,6,6,5,6,7,6,5,5,6,7,7,7,7,7,15,11,14,13,28,20,22,20,20,22,22,22,23,22,23,23,23,23,23,24,23,24,24,22,23,24,23,23,23,23,21,22,23,22,23,23,24,22,21,20,22,22,23,23,21,23,22,22,24,21,22,23,23,21,21,22,21,23,22,23,23,20,22,22,22,23,22,22,23,26,26,20,19,22,23,22,25,26,26,26,27,27,26,24,25,19,21,26,27,27,26,27,24,21,21,26,26,28,27,27,27,20,24,20,21,22,21,21,23,22,22,25,25,24,24,26,23,26,27,26,26,27,27,27,27,27,28,27,27,27,27,27,26,30"
    .split(",")
    .map(Number);

const EOS = 256;
const MAX_LENGTH = 30;
/** Per code length: the first code of that length, and where its symbols start in SYMBOLS. */
const FIRST_CODE = new Int32Array(MAX_LENGTH + 2);
const COUNT = new Int32Array(MAX_LENGTH + 2);
const OFFSET = new Int32Array(MAX_LENGTH + 2);
const SYMBOLS = new Uint16Array(CODE_LENGTHS.length);
{
  for (const length of CODE_LENGTHS) COUNT[length]!++;
  let code = 0;
  let offset = 0;
  for (let length = 1; length <= MAX_LENGTH; length++) {
    FIRST_CODE[length] = code;
    OFFSET[length] = offset;
    code = (code + COUNT[length]!) * 2;
    offset += COUNT[length]!;
  }
  const next = OFFSET.slice();
  for (let symbol = 0; symbol < CODE_LENGTHS.length; symbol++) SYMBOLS[next[CODE_LENGTHS[symbol]!]!++] = symbol;
}

/**
 * Decodes `bytes[start, end)` as a Huffman-coded string (latin1). Throws on EOS inside the string and on padding
 * that is longer than 7 bits or not all ones, as the RFC requires of a decoder.
 */
export function decodeHuffman(bytes: Uint8Array, start: number, end: number): string {
  let out = "";
  let code = 0;
  let length = 0;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const index = code - FIRST_CODE[length]!;
      if (index < COUNT[length]!) {
        const symbol = SYMBOLS[OFFSET[length]! + index]!;
        if (symbol === EOS) throw new Error("hpack: EOS in a Huffman string");
        out += String.fromCharCode(symbol);
        code = 0;
        length = 0;
      } else if (length >= MAX_LENGTH) throw new Error("hpack: bad Huffman code");
    }
  }
  // What is left must be a prefix of EOS (all ones), shorter than a byte.
  if (length > 7 || code !== 2 ** length - 1) throw new Error("hpack: bad Huffman padding");
  return out;
}
