import type { ServerResponse } from 'node:http';

/**
 * Sends a streamed 200 body on a response the route has taken over from fastify (`reply.hijack()`), piece by piece:
 * waits for 'drain' while the socket's buffer is full, and stops when the client goes away. `sent` receives each
 * piece once the socket has taken its bytes (its write callback, without error), so the piece's memory can hold a
 * later one; a piece queued on a connection that died is left to the garbage collector. An error from `pieces`
 * destroys the connection (the client sees a cut-off body, as with any stream that fails midway) and is thrown.
 *
 * `first` is the first result of `pieces`, taken by the caller before it hijacked the reply: a failure before any
 * byte is sent still gets a normal error reply.
 */
export async function sendPieces(
  res: ServerResponse,
  contentType: string,
  first: IteratorResult<Buffer>,
  pieces: AsyncIterator<Buffer>,
  sent: (piece: Buffer) => void,
): Promise<void> {
  try {
    res.writeHead(200, { 'content-type': contentType });
    for (let r = first; r.done !== true; r = await pieces.next()) {
      if (res.destroyed) return;
      const piece = r.value;
      const more = res.write(piece, (err) => {
        if (err == null) sent(piece);
      });
      if (!more) await drainOrClose(res);
    }
    res.end();
  } catch (err) {
    res.destroy(err as Error);
    throw err;
  } finally {
    await pieces.return?.();
  }
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
