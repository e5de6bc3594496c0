// A body past KMS_MAX_BODY_BYTES is refused (413) before it has all arrived, and the connection closes after
// the answer. Closing a TCP socket while the peer's bytes are still unread or still arriving makes the kernel
// answer with a reset (RST), and a client that meets it while it is still sending (EPIPE) or before it has read
// the answer (ECONNRESET) never sees the 413: about one oversized SDK call in thirty failed so on loopback, as a
// network error the SDK then retries. RFC 9112 section 9.6 prescribes the cure, a staged ("lingering") close:
// send the answer and a FIN, keep reading and dropping what the client still sends, and close once it is done.

import type { Socket } from 'node:net';

/** How long a refused body may go on arriving after its answer before the connection is cut regardless. */
const LINGER_MS = 2_000;

const lingering = new WeakSet<Socket>();

/**
 * Makes the close Node's HTTP server performs after a `Connection: close` answer (socket.destroySoon, once the
 * answer is written) a staged one: the answer and a FIN go out, the request body still arriving is read and
 * dropped (Node's server discards a body the handler left unread), and the socket is destroyed when the client
 * closes its side (the stream's autoDestroy, both sides ended) or LINGER_MS later.
 */
export function closeAfterLingering(socket: Socket): void {
  lingering.add(socket);
  socket.destroySoon = function lingeringClose(this: Socket): void {
    if (this.writable) this.end();
    const deadline = setTimeout(() => this.destroy(), LINGER_MS);
    deadline.unref();
    this.once('close', () => clearTimeout(deadline));
  };
}

/**
 * Whether the connection is closing after a refused body. A request pipelined behind it must not be carried
 * out: its answer could not be sent, and a CreateKey done but never reported is a lost write.
 */
export const isLingering = (socket: Socket): boolean => lingering.has(socket);
