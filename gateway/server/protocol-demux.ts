import type { Server as Http1Server } from "node:http";
import type { Http2Server } from "node:http2";
import { createServer, type Server } from "node:net";

// RFC 9113 §3.4: an HTTP/2 client with prior knowledge opens with this preface; an HTTP/1.1 request never does.
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const firstBytesTimeoutMs = 10_000;

/**
 * One TCP listener for HTTP/2 cleartext and HTTP/1.1. Node's `allowHTTP1` only works with TLS (it relies on ALPN),
 * so the first bytes of each connection pick the server: the HTTP/2 preface goes to `h2`, anything else to `h1`.
 * The peeked bytes are put back with `unshift`: node's HTTP/2 session reads what is buffered on the socket when it
 * attaches (the socket must stay paused until then), the HTTP/1.1 parser reads it once the socket resumes.
 */
export function createDemuxServer(h2: Http2Server, h1: Http1Server): Server {
  return createServer((socket) => {
    // Until a server owns the socket, a reset must not become an unhandled 'error' (which would end the process).
    const dropOnError = () => socket.destroy();
    socket.on("error", dropOnError);
    socket.setTimeout(firstBytesTimeoutMs, () => socket.destroy());
    socket.once("data", (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.off("error", dropOnError);
      socket.pause();
      socket.unshift(chunk);
      const n = Math.min(chunk.byteLength, preface.byteLength);
      if (chunk.subarray(0, n).equals(preface.subarray(0, n))) {
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    });
  });
}
