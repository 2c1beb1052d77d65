// Where a local server listens: loopback by default (IPv4 and IPv6 on one port), or one address given.
import type { Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';

/** The default: both loopback addresses, so `localhost` works whichever one it resolves to. */
export const LOOPBACK = 'localhost';

export interface Listening {
  port: number;
  /** the addresses actually bound, e.g. ["127.0.0.1", "::1"] */
  addresses: string[];
  /** stops accepting on every address (the HTTP server's own close() still drains its connections) */
  close(): Promise<void>;
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms: a caller on this machine. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function bind(server: Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeNet(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Listens `server` on `host`. For `localhost` (the default) it binds 127.0.0.1 and, on the same port,
 * ::1 (skipped where the machine has no IPv6): `localhost` may resolve to either, and a server on
 * one only would leave the other to whatever else holds that port. Connections accepted on ::1 are
 * handed to the same HTTP server, so its limits and timeouts apply to both. Port 0 picks a port free
 * on both addresses. Errors are the listen error (EADDRINUSE and so on) of the address that failed.
 */
export async function listenOn(
  server: HttpServer,
  port: number,
  host: string = LOOPBACK,
): Promise<Listening> {
  if (host.toLowerCase() !== LOOPBACK) {
    const bound = await bind(server, port, host);
    return {
      port: bound,
      addresses: [(server.address() as AddressInfo).address],
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }
  for (let attempt = 0; ; attempt++) {
    const bound = await bind(server, port, '127.0.0.1');
    const v6 = createNetServer((socket) => server.emit('connection', socket));
    try {
      await bind(v6, bound, '::1');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') {
        // No IPv6 loopback here: 127.0.0.1 alone is all `localhost` can mean.
        return {
          port: bound,
          addresses: ['127.0.0.1'],
          close: () => new Promise((resolve) => server.close(() => resolve())),
        };
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // A port picked for 127.0.0.1 may be taken on ::1: pick another.
      if (code === 'EADDRINUSE' && port === 0 && attempt < 10) continue;
      throw e;
    }
    return {
      port: bound,
      addresses: ['127.0.0.1', '::1'],
      close: async () => {
        await Promise.all([
          closeNet(v6),
          new Promise<void>((resolve) => server.close(() => resolve())),
        ]);
      },
    };
  }
}
