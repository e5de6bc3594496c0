// A loopback TCP proxy a test can cut and restore: one process's network path to a server (PostgreSQL, say)
// goes away, every connection through it reset and new ones refused, while other processes still reach the
// server directly. A network partition of one node, on loopback.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './postgres.js';

export interface TcpProxy {
  port: number;
  /** Resets every connection through the proxy and refuses new ones until restore(). */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // a reset is what the proxy is for
  };
  const listen = () => new Promise<void>((resolve, reject) => {
    const listening = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      track(client);
      track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    listening.once('error', reject);
    listening.listen(port, '127.0.0.1', () => {
      server = listening;
      resolve();
    });
  });
  const cut = async () => {
    const listening = server;
    server = undefined;
    for (const socket of sockets) socket.resetAndDestroy();
    if (listening !== undefined) await new Promise<void>((resolve) => listening.close(() => resolve()));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}
