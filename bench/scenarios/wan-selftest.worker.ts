/**
 * The far end and the near end of wan-selftest in one thread: a node:http origin serving `GET /bytes/<n>`, and
 * a client that downloads through whatever URL it is given. Keeping both off the main thread leaves the
 * simulator a thread of its own, so the RTT-0 row is not three parties sharing one event loop.
 */
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';

export type SelftestRequest = { readonly type: 'download'; readonly url: string; readonly bytes: number };
export type SelftestReply =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'downloaded'; readonly seconds: number }
  | { readonly type: 'failed'; readonly message: string };

const MIB = 1024 * 1024;
const block = Buffer.alloc(MIB, 0x5a);

const origin = createServer((req, res) => {
  const total = Number((req.url ?? '').split('/')[2]);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const piece = left >= block.length ? block : block.subarray(0, left);
      left -= piece.length;
      if (!res.write(piece)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
});

/** Seconds from sending the request to the last byte, over a fresh connection. */
function download(url: string, bytes: number): Promise<number> {
  return new Promise((done, fail) => {
    const started = performance.now();
    let received = 0;
    const req = get(`${url}/bytes/${bytes}`, { agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      res.on('end', () => {
        if (received === bytes) done((performance.now() - started) / 1000);
        else fail(new Error(`received ${received} of ${bytes} bytes`));
      });
      res.on('error', fail);
    });
    req.on('error', fail);
  });
}

const port = parentPort;
if (port === null) throw new Error('wan-selftest.worker.ts must run in a worker thread');
const reply = (message: SelftestReply): void => port.postMessage(message);

port.on('message', (message: SelftestRequest) => {
  download(message.url, message.bytes).then(
    (seconds) => reply({ type: 'downloaded', seconds }),
    (err: unknown) => reply({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
  );
});
origin.listen(0, '127.0.0.1', () =>
  reply({ type: 'listening', port: (origin.address() as AddressInfo).port }),
);
