/**
 * The wire bytes a message was decoded from, for a message that is passed on unchanged: the decision engine embeds
 * each request in the AuctionOutcome it publishes, and encoding a DecideRequest again cost ~50 us per decision.
 * The bytes are the client's, so they decode to the same message (unknown fields included, as toBinary keeps
 * them) but need not be toBinary's exact bytes. A remembered message must not be changed after decoding: requests
 * are read-only from the moment the server decodes them.
 */
const origins = new WeakMap<object, Uint8Array>();

export function rememberWireBytes(message: object, bytes: Uint8Array): void {
  origins.set(message, bytes);
}

export function wireBytesOf(message: object): Uint8Array | undefined {
  return origins.get(message);
}
