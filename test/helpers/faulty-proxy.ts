import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

/**
 * A faulty peer: a real HTTP proxy in front of the server that does what `fault` says with each request —
 * forward it, answer 503 itself, or forward it and cut the response after some bytes.
 */
export async function faultyProxy(
  t: TestContext,
  target: string,
  fault: (req: IncomingMessage, n: number) => 'pass' | '503' | { cutAfter: number } | 'hang',
): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const what = fault(req, seen.length);
    seen.push(`${req.method} ${req.url?.split('?')[0]}`);
    if (what === 'hang') return;
    if (what === '503') {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
      return;
    }
    const up = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (what === 'pass') {
        answer.pipe(res);
        return;
      }
      let sent = 0;
      answer.on('data', (piece: Buffer) => {
        if (sent + piece.length >= what.cutAfter) {
          res.write(piece.subarray(0, what.cutAfter - sent));
          res.socket?.destroy();
          answer.destroy();
          return;
        }
        sent += piece.length;
        res.write(piece);
      });
      answer.on('end', () => res.end());
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}
