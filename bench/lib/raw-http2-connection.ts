import net from "node:net";
import { HpackDecoder } from "./hpack-decoder.ts";
import { type RequestHeaderBlocks, requestHeaderBlocks, withTableSizeUpdate } from "./hpack-request-headers.ts";
import {
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FRAME_HEADER_BYTES,
  FrameType,
  Setting,
  writeFrameHeader,
} from "./http2-frames.ts";

/** A request body the connection writes straight into its output (no copy of its own unless flow control waits). */
export interface RequestBody {
  readonly length: number;
  writeTo(out: Buffer, at: number): void;
}

/** What one stream reports, as methods of one object per request (cheaper than closures per event). */
export interface StreamHandler {
  /** A complete header block: the response headers, then the trailers; flat name, value, name, value... */
  onHeaders(fields: string[]): void;
  /** Response body bytes, valid only during the call (the read buffer is reused). */
  onData(bytes: Buffer, start: number, end: number): void;
  /** Exactly once: `undefined` after the server ended the stream, else why it failed ("timeout", "reset 7"...). */
  onClose(error: string | undefined): void;
}

/** One request: waiting (id 0) until the connection starts it, then open until closed. */
export class RawStream {
  id = 0;
  closed = false;
  /** Body bytes sent, and the whole body once flow control made it wait (kept for the frames still to send). */
  sent = 0;
  pending: Buffer | undefined;
  sendWindow = 0;
  received = 0;
  constructor(
    readonly body: RequestBody,
    readonly handler: StreamHandler,
  ) {}
}

export interface RawHttp2Options {
  host: string;
  port: number;
  /** Request headers, pseudo-headers first; the same for every request on the connection. */
  headers: readonly (readonly [string, string])[];
  /** This side's stream window (SETTINGS_INITIAL_WINDOW_SIZE) and, at least 65,535, its connection window. */
  windowBytes?: number;
  /** SETTINGS_HEADER_TABLE_SIZE announced for the server's encoder (4096 unless set; tests use smaller ones). */
  headerTableSize?: number;
}

/**
 * The connection's life:
 * - `connecting`: the socket connects and the preface goes out; requests wait for the server's first SETTINGS
 *   (its header table size decides how request headers are encoded).
 * - `open`: requests start as streams, up to the server's SETTINGS_MAX_CONCURRENT_STREAMS (the rest wait).
 * - `draining`: GOAWAY received, or stream ids used up: open streams finish, nothing new starts (the sender opens
 *   another connection).
 * - `closed`: the socket is gone; every stream and waiting request has failed with the reason.
 */
export type ConnectionState = "connecting" | "open" | "draining" | "closed";

/** Output is written into one buffer per event-loop turn and flushed in one socket write. */
const OUTPUT_CHUNK = 64 * 1024;
const MAX_STREAM_ID = 0x7fff_ffff;

/**
 * A lean HTTP/2 client connection over a raw socket, for the bench's load client: frames are written by hand and
 * parsed frame by frame, flow control is respected both ways, and each request costs a few copies, no objects of
 * node:http2's stream machinery. Only what a unary RPC client needs: no server push, no priorities.
 */
export class RawHttp2Connection {
  state: ConnectionState = "connecting";
  /** Resolves on the server's first SETTINGS; rejects if the connection closes before. */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private readonly socket: net.Socket;
  private readonly decoder: HpackDecoder;
  private readonly windowBytes: number;
  private readonly connectionWindow: number;
  private readonly streams = new Map<number, RawStream>();
  private readonly waiting: RawStream[] = [];
  private waitingHead = 0;
  private readonly blocked = new Set<RawStream>();
  private nextId = 1;
  private blocks: RequestHeaderBlocks | undefined;
  private firstBlockSent = false;
  private serverTableSize = 4096;
  private maxStreams = Number.POSITIVE_INFINITY;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private sendWindow = DEFAULT_WINDOW;
  private receivedUnacked = 0;
  private out = Buffer.allocUnsafe(OUTPUT_CHUNK);
  private outStart = 0;
  private outEnd = 0;
  private flushQueued = false;
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  private carry: Buffer | undefined;
  /** A header block split over CONTINUATION frames, until its END_HEADERS. */
  private partialBlock: { streamId: number; endStream: boolean; parts: Buffer[] } | undefined;
  private closeReason = "connection closed";

  constructor(private readonly options: RawHttp2Options) {
    this.windowBytes = options.windowBytes ?? 1 << 20;
    this.decoder = new HpackDecoder(options.headerTableSize);
    this.connectionWindow = Math.max(DEFAULT_WINDOW, this.windowBytes);
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // a caller that never awaits it must not see an unhandled rejection
    this.socket = net.connect({
      host: options.host,
      port: options.port,
      noDelay: true,
      onread: { buffer: this.readBuffer, callback: (n) => this.onRead(n) },
    });
    this.socket.on("error", (err) => this.fail(err.message));
    this.socket.on("close", () => this.fail(this.closeReason));
    this.writePreface();
  }

  /** Starts a request, or queues it until the connection (or a stream slot) is ready. */
  request(body: RequestBody, handler: StreamHandler): RawStream {
    const stream = new RawStream(body, handler);
    if (this.state === "draining" || this.state === "closed") {
      stream.closed = true;
      handler.onClose(this.state === "closed" ? this.closeReason : "goaway");
    } else if (this.state === "open" && this.streams.size < this.maxStreams && this.waitingHead === this.waiting.length)
      this.start(stream);
    else this.waiting.push(stream);
    return stream;
  }

  /** Abandons a stream: RST_STREAM(CANCEL) if it started, and `reason` to its handler. */
  cancel(stream: RawStream, reason: string): void {
    if (stream.closed) return;
    if (stream.id !== 0 && this.state !== "closed") this.writeRst(stream.id, ErrorCode.CANCEL);
    this.finish(stream, reason);
  }

  /** Ends the connection: whatever is still open fails with "closed". */
  close(): void {
    this.closeReason = "closed";
    this.socket.end();
    this.fail("closed");
  }

  private writePreface(): void {
    const settings: [number, number][] = [
      [Setting.ENABLE_PUSH, 0],
      [Setting.INITIAL_WINDOW_SIZE, this.windowBytes],
    ];
    if (this.options.headerTableSize !== undefined)
      settings.push([Setting.HEADER_TABLE_SIZE, this.options.headerTableSize]);
    const at = this.reserve(CLIENT_PREFACE.length + FRAME_HEADER_BYTES + settings.length * 6);
    CLIENT_PREFACE.copy(this.out, at);
    const frame = at + CLIENT_PREFACE.length;
    writeFrameHeader(this.out, frame, settings.length * 6, FrameType.SETTINGS, 0, 0);
    settings.forEach(([id, value], i) => {
      this.out.writeUInt16BE(id, frame + FRAME_HEADER_BYTES + i * 6);
      this.out.writeUInt32BE(value, frame + FRAME_HEADER_BYTES + i * 6 + 2);
    });
    if (this.connectionWindow > DEFAULT_WINDOW) this.writeWindowUpdate(0, this.connectionWindow - DEFAULT_WINDOW);
  }

  private start(stream: RawStream): void {
    const id = this.nextId;
    this.nextId += 2;
    stream.id = id;
    stream.sendWindow = this.peerInitialWindow;
    this.streams.set(id, stream);
    const blocks = this.blocks!;
    const block = this.firstBlockSent ? blocks.rest : blocks.first;
    this.firstBlockSent = true;
    const empty = stream.body.length === 0;
    const at = this.reserve(FRAME_HEADER_BYTES + block.length);
    writeFrameHeader(
      this.out,
      at,
      block.length,
      FrameType.HEADERS,
      Flag.END_HEADERS | (empty ? Flag.END_STREAM : 0),
      id,
    );
    block.copy(this.out, at + FRAME_HEADER_BYTES);
    if (!empty) this.sendBody(stream);
    if (this.nextId > MAX_STREAM_ID) {
      // Stream ids used up: this connection finishes what it has, the sender opens another.
      this.state = "draining";
      this.failWaiting("stream ids used up");
    }
  }

  /** Sends as much of the body as the windows and the frame size allow; the rest waits for WINDOW_UPDATE. */
  private sendBody(stream: RawStream): void {
    const length = stream.body.length;
    // The usual case: the whole body in one DATA frame, written in place.
    if (stream.sent === 0 && length <= this.sendWindow && length <= stream.sendWindow && length <= this.peerMaxFrame) {
      const at = this.reserve(FRAME_HEADER_BYTES + length);
      writeFrameHeader(this.out, at, length, FrameType.DATA, Flag.END_STREAM, stream.id);
      stream.body.writeTo(this.out, at + FRAME_HEADER_BYTES);
      stream.sent = length;
      this.sendWindow -= length;
      stream.sendWindow -= length;
      return;
    }
    if (!stream.pending) {
      stream.pending = Buffer.allocUnsafe(length);
      stream.body.writeTo(stream.pending, 0);
    }
    while (stream.sent < length) {
      const n = Math.min(length - stream.sent, this.sendWindow, stream.sendWindow, this.peerMaxFrame);
      if (n <= 0) {
        this.blocked.add(stream);
        return;
      }
      const last = stream.sent + n === length;
      const at = this.reserve(FRAME_HEADER_BYTES + n);
      writeFrameHeader(this.out, at, n, FrameType.DATA, last ? Flag.END_STREAM : 0, stream.id);
      stream.pending.copy(this.out, at + FRAME_HEADER_BYTES, stream.sent, stream.sent + n);
      stream.sent += n;
      this.sendWindow -= n;
      stream.sendWindow -= n;
    }
    this.blocked.delete(stream);
    stream.pending = undefined;
  }

  private unblock(): void {
    for (const stream of this.blocked) {
      if (this.sendWindow <= 0) return;
      this.sendBody(stream);
    }
  }

  private finish(stream: RawStream, error: string | undefined): void {
    if (stream.closed) return;
    stream.closed = true;
    if (stream.id !== 0) {
      this.streams.delete(stream.id);
      this.blocked.delete(stream);
    }
    stream.handler.onClose(error);
    this.startWaiting();
    if (this.state === "draining" && this.streams.size === 0) this.socket.destroySoon();
  }

  private startWaiting(): void {
    while (this.state === "open" && this.waitingHead < this.waiting.length && this.streams.size < this.maxStreams) {
      const stream = this.waiting[this.waitingHead++]!;
      if (!stream.closed) this.start(stream);
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting.length = 0;
      this.waitingHead = 0;
    }
  }

  /** The socket is gone (or the client closes): everything still open or waiting fails with `reason`. */
  private fail(reason: string): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.closeReason = reason;
    this.rejectReady(new Error(reason));
    for (const stream of [...this.streams.values(), ...this.waiting.slice(this.waitingHead)]) {
      if (stream.closed) continue;
      stream.closed = true;
      stream.handler.onClose(reason);
    }
    this.streams.clear();
    this.blocked.clear();
    this.waiting.length = 0;
    this.waitingHead = 0;
    if (!this.socket.destroyed) this.socket.destroy();
  }

  // --- reading -------------------------------------------------------------------------------------------------

  private onRead(nread: number): boolean {
    let data = this.readBuffer;
    let end = nread;
    if (this.carry) {
      data = Buffer.concat([this.carry, data.subarray(0, nread)]);
      end = data.length;
      this.carry = undefined;
    }
    let pos = 0;
    while (end - pos >= FRAME_HEADER_BYTES && this.state !== "closed") {
      const length = (data[pos]! << 16) | (data[pos + 1]! << 8) | data[pos + 2]!;
      if (length > DEFAULT_MAX_FRAME) {
        this.protocolError(`frame of ${length} bytes`);
        return true;
      }
      if (end - pos - FRAME_HEADER_BYTES < length) break;
      const type = data[pos + 3]!;
      const flags = data[pos + 4]!;
      const streamId = data.readUInt32BE(pos + 5) & MAX_STREAM_ID;
      const start = pos + FRAME_HEADER_BYTES;
      pos = start + length;
      this.onFrame(type, flags, streamId, data, start, pos);
    }
    // The read buffer is reused: a partial frame is copied out.
    if (pos < end && this.state !== "closed") this.carry = Buffer.from(data.subarray(pos, end));
    return true;
  }

  private onFrame(type: number, flags: number, streamId: number, data: Buffer, start: number, end: number): void {
    if (this.partialBlock && type !== FrameType.CONTINUATION) {
      this.protocolError("a header block interrupted");
      return;
    }
    switch (type) {
      case FrameType.DATA:
        this.onDataFrame(flags, streamId, data, start, end);
        return;
      case FrameType.HEADERS:
        this.onHeadersFrame(flags, streamId, data, start, end);
        return;
      case FrameType.CONTINUATION:
        this.onContinuation(flags, streamId, data, start, end);
        return;
      case FrameType.RST_STREAM: {
        const stream = this.streams.get(streamId);
        if (stream) this.finish(stream, `reset ${data.readUInt32BE(start)}`);
        return;
      }
      case FrameType.SETTINGS:
        if ((flags & Flag.ACK) === 0) this.onSettings(data, start, end);
        return;
      case FrameType.PING:
        if ((flags & Flag.ACK) === 0) {
          const at = this.reserve(FRAME_HEADER_BYTES + 8);
          writeFrameHeader(this.out, at, 8, FrameType.PING, Flag.ACK, 0);
          data.copy(this.out, at + FRAME_HEADER_BYTES, start, start + 8);
        }
        return;
      case FrameType.GOAWAY:
        this.onGoaway(data.readUInt32BE(start) & MAX_STREAM_ID, data.readUInt32BE(start + 4));
        return;
      case FrameType.WINDOW_UPDATE: {
        const increment = data.readUInt32BE(start) & MAX_STREAM_ID;
        if (streamId === 0) this.sendWindow += increment;
        else {
          const stream = this.streams.get(streamId);
          if (stream) stream.sendWindow += increment;
        }
        this.unblock();
        return;
      }
      case FrameType.PUSH_PROMISE:
        // Push is disabled in the preface: a server that pushes anyway breaks the protocol.
        this.protocolError("push promise");
        return;
      default:
        return; // PRIORITY and unknown frame types are ignored (RFC 9113 §5.5)
    }
  }

  private onDataFrame(flags: number, streamId: number, data: Buffer, start: number, end: number): void {
    // Padding counts against the windows too (RFC 9113 §6.1).
    const flowed = end - start;
    let from = start;
    let to = end;
    if (flags & Flag.PADDED) {
      from++;
      to -= data[start]!;
    }
    this.receivedUnacked += flowed;
    if (this.receivedUnacked >= this.connectionWindow / 2) {
      this.writeWindowUpdate(0, this.receivedUnacked);
      this.receivedUnacked = 0;
    }
    const stream = this.streams.get(streamId);
    if (!stream) return; // cancelled or failed: its bytes still counted for the connection above
    if (to > from) stream.handler.onData(data, from, to);
    if (flags & Flag.END_STREAM) {
      this.endStream(stream);
      return;
    }
    stream.received += flowed;
    if (stream.received >= this.windowBytes / 2) {
      this.writeWindowUpdate(stream.id, stream.received);
      stream.received = 0;
    }
  }

  private onHeadersFrame(flags: number, streamId: number, data: Buffer, start: number, end: number): void {
    let from = start;
    let to = end;
    if (flags & Flag.PADDED) {
      from++;
      to -= data[start]!;
    }
    if (flags & Flag.PRIORITY) from += 5;
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (flags & Flag.END_HEADERS) this.onHeaderBlock(streamId, endStream, data, from, to);
    // The block goes on in CONTINUATION frames: copied, as the read buffer is reused.
    else this.partialBlock = { streamId, endStream, parts: [Buffer.from(data.subarray(from, to))] };
  }

  private onContinuation(flags: number, streamId: number, data: Buffer, start: number, end: number): void {
    const partial = this.partialBlock;
    if (!partial || partial.streamId !== streamId) {
      this.protocolError("unexpected CONTINUATION");
      return;
    }
    partial.parts.push(Buffer.from(data.subarray(start, end)));
    if ((flags & Flag.END_HEADERS) === 0) return;
    this.partialBlock = undefined;
    const block = Buffer.concat(partial.parts);
    this.onHeaderBlock(streamId, partial.endStream, block, 0, block.length);
  }

  private onHeaderBlock(streamId: number, endStream: boolean, block: Buffer, start: number, end: number): void {
    let fields: string[];
    try {
      // Every block is decoded, even a cancelled stream's: the dynamic table must follow the server's.
      fields = this.decoder.decode(block, start, end);
    } catch (err) {
      this.protocolError((err as Error).message);
      return;
    }
    const stream = this.streams.get(streamId);
    if (!stream) return;
    stream.handler.onHeaders(fields);
    if (endStream) this.endStream(stream);
  }

  /** The server ended the stream; a body it did not wait for is abandoned (RFC 9113 §8.1). */
  private endStream(stream: RawStream): void {
    if (stream.sent < stream.body.length) this.writeRst(stream.id, ErrorCode.CANCEL);
    this.finish(stream, undefined);
  }

  private onSettings(data: Buffer, start: number, end: number): void {
    for (let at = start; at + 6 <= end; at += 6) {
      const id = data.readUInt16BE(at);
      const value = data.readUInt32BE(at + 2);
      if (id === Setting.HEADER_TABLE_SIZE) this.onServerTableSize(value);
      else if (id === Setting.MAX_CONCURRENT_STREAMS) this.maxStreams = value;
      else if (id === Setting.MAX_FRAME_SIZE) this.peerMaxFrame = value;
      else if (id === Setting.INITIAL_WINDOW_SIZE) {
        // Changes every open stream's window by the difference (RFC 9113 §6.9.2).
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) stream.sendWindow += delta;
      }
    }
    const at = this.reserve(FRAME_HEADER_BYTES);
    writeFrameHeader(this.out, at, 0, FrameType.SETTINGS, Flag.ACK, 0);
    if (this.state === "connecting") {
      this.blocks = requestHeaderBlocks(this.options.headers, this.serverTableSize);
      this.state = "open";
      this.resolveReady();
      this.startWaiting();
    } else this.unblock();
  }

  private onServerTableSize(size: number): void {
    const previous = this.serverTableSize;
    this.serverTableSize = size;
    if (this.state === "connecting" || size >= previous) return;
    // The server's table shrank: our entries may be gone. Empty it and send literals from now on.
    const literal = requestHeaderBlocks(this.options.headers, 0).rest;
    this.blocks = { first: withTableSizeUpdate(literal, 0), rest: literal };
    this.firstBlockSent = false;
  }

  private onGoaway(lastStreamId: number, code: number): void {
    if (this.state === "closed") return;
    this.state = "draining";
    const reason = `goaway ${code}`;
    // Streams above the last one the server took were never processed.
    for (const stream of [...this.streams.values()]) if (stream.id > lastStreamId) this.finish(stream, reason);
    this.failWaiting(reason);
    if (this.streams.size === 0) this.socket.destroySoon();
  }

  private failWaiting(reason: string): void {
    const waiting = this.waiting.splice(this.waitingHead);
    this.waiting.length = 0;
    this.waitingHead = 0;
    for (const stream of waiting) {
      if (stream.closed) continue;
      stream.closed = true;
      stream.handler.onClose(reason);
    }
  }

  private protocolError(detail: string): void {
    const at = this.reserve(FRAME_HEADER_BYTES + 8);
    writeFrameHeader(this.out, at, 8, FrameType.GOAWAY, 0, 0);
    this.out.writeUInt32BE(0, at + FRAME_HEADER_BYTES); // the last server-initiated stream: none
    this.out.writeUInt32BE(ErrorCode.PROTOCOL_ERROR, at + FRAME_HEADER_BYTES + 4);
    this.flush();
    this.fail(`protocol error: ${detail}`);
  }

  // --- writing -------------------------------------------------------------------------------------------------

  private writeWindowUpdate(streamId: number, increment: number): void {
    const at = this.reserve(FRAME_HEADER_BYTES + 4);
    writeFrameHeader(this.out, at, 4, FrameType.WINDOW_UPDATE, 0, streamId);
    this.out.writeUInt32BE(increment, at + FRAME_HEADER_BYTES);
  }

  private writeRst(streamId: number, code: number): void {
    const at = this.reserve(FRAME_HEADER_BYTES + 4);
    writeFrameHeader(this.out, at, 4, FrameType.RST_STREAM, 0, streamId);
    this.out.writeUInt32BE(code, at + FRAME_HEADER_BYTES);
  }

  /**
   * Room for `bytes` in the output buffer, flushed once at the end of this turn (after every request the open
   * loop's tick issued): one socket write for many frames. A full buffer is flushed and replaced, never reused:
   * the socket may still hold the bytes written from it.
   */
  private reserve(bytes: number): number {
    if (this.outEnd + bytes > this.out.length) {
      this.flush();
      this.out = Buffer.allocUnsafe(Math.max(OUTPUT_CHUNK, bytes));
      this.outStart = 0;
      this.outEnd = 0;
    }
    const at = this.outEnd;
    this.outEnd += bytes;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
    return at;
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    if (this.outEnd === this.outStart || this.socket.destroyed) return;
    this.socket.write(this.out.subarray(this.outStart, this.outEnd));
    this.outStart = this.outEnd;
  };
}
