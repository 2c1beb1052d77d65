// A counting proxy in front of Azurite's table port, so a benchmark counts every request the app and the
// host make to Table storage (the sandbox talks to Azurite directly and is not counted).
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export function countingProxy(target: number): Promise<{
  server: Server;
  port: number;
  count: () => number;
  /** requests so far by method and table (`GET Migrations`, `POST $batch`, …) */
  kinds: () => Map<string, number>;
}> {
  let count = 0;
  const kinds = new Map<string, number>();
  const server = createServer((req, res) => {
    count++;
    const table = (req.url ?? '').split('?')[0]!.split('/')[2]?.replace(/\(.*$/, '') ?? '';
    const kind = `${req.method} ${table}`;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    const up = request(
      { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.keepAliveTimeout = 120_000; // as the embedded Azurite: no idle close racing a request
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        count: () => count,
        kinds: () => new Map(kinds),
      }),
    ),
  );
}
