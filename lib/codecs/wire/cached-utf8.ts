/**
 * UTF-8 bytes of strings that repeat in every message a hand-written encoder writes (creative and campaign ids,
 * agent names, veto details): TextEncoder per short string was the largest part of those encodings. Bounded: past
 * the limit the cache starts over.
 */
const cache = new Map<string, Uint8Array>();
const LIMIT = 50_000;
const encoder = new TextEncoder();

export function cachedUtf8(text: string): Uint8Array {
  let bytes = cache.get(text);
  if (!bytes) {
    if (cache.size >= LIMIT) cache.clear();
    bytes = encoder.encode(text);
    cache.set(text, bytes);
  }
  return bytes;
}
