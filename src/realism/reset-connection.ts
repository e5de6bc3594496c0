// KMS_FAULTS `reset`: end the client's connection with a TCP reset (RST), as the README promises, not with the
// orderly close (FIN) that socket.destroy() sends. Clients tell the two apart: Node reports `read ECONNRESET`
// for a reset but `socket hang up` for a close, Python `ConnectionResetError` but `RemoteDisconnected`, Go
// `connection reset by peer` but `EOF`; a pipeline tested against resets must see the reset.

import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** Drops `socket`'s connection with a TCP RST; falls back to an orderly close where no TCP socket is reachable. */
export function resetConnection(socket: Socket): void {
  const tcp = tcpSocketOf(socket);
  try {
    tcp.resetAndDestroy();
  } catch {
    // resetAndDestroy refuses handles that are not TCP (a pipe): closing is the nearest we can do there.
  }
  if (!socket.destroyed) socket.destroy();
}

/**
 * Over HTTPS the request's socket is a TLSSocket whose handle is the TLS layer, which resetAndDestroy refuses;
 * the TCP socket under it is the one the TLS server wrapped (Node keeps it as `_parent`).
 */
function tcpSocketOf(socket: Socket): Socket {
  const parent = (socket as TLSSocket & { _parent?: unknown })._parent;
  return (socket as TLSSocket).encrypted === true && isSocket(parent) ? parent : socket;
}

const isSocket = (value: unknown): value is Socket =>
  typeof value === 'object' && value !== null && typeof (value as Socket).resetAndDestroy === 'function';
