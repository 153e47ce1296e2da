import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Digest, makeGroup, parseArchiveName, parseDigest, parseNamespace } from '../model/index.js';
import {
  CONTENT_TYPE,
  DigestListBody,
  DownloadQuery,
  LIMITS,
  ProveBody,
  ReaderOpenBody,
  type ReaderOpenData,
  ROUTES,
  SessionParams,
  StoreParams,
} from '../protocol/index.js';
import { ReaderSession, sendBuffers } from './reader-session.js';
import { sendPieces } from './send-pieces.js';
import { authIdOf, ok, openStoreFor, type ServerContext } from './server-context.js';
import { newSessionId } from './session-table.js';

interface SessionParamsT {
  session: string;
}

/**
 * The files a reader open was asked to send along, read as their downloads would read them (an index registers its
 * digests), base64, in the order asked, within LIMITS.maxPrefetchBytes. A file that cannot be read (missing,
 * unfinished, locked, malformed) or does not fit is left out: the client downloads it and meets the error there, in
 * its own context. So a pull's first snapshot needs no round trip of its own between the session and its chunks.
 */
async function prefetched(
  session: ReaderSession,
  time: number,
  names: readonly string[],
): Promise<NonNullable<ReaderOpenData['files']>> {
  const files: NonNullable<ReaderOpenData['files']> = [];
  let bytes = 0;
  for (const name of names) {
    try {
      const data = await session.download(time, parseArchiveName(name));
      if (bytes + data.length > LIMITS.maxPrefetchBytes) continue;
      bytes += data.length;
      files.push({ 'file-name': name, data: data.toString('base64') });
    } catch {
      // Left for the client's own download, which reports it.
    }
  }
  return files;
}

/** Reader sessions (used by pull): open, download, batch chunk download, proof of possession, close. */
export function registerReaderRoutes(app: FastifyInstance, ctx: ServerContext): void {
  /** Runs `fn` on the caller's reader session after re-checking its role (an ACL may have changed meanwhile). */
  const withReader = <T>(
    request: FastifyRequest<{ Params: SessionParamsT }>,
    fn: (s: ReaderSession) => Promise<T>,
  ) => {
    const authId = authIdOf(request);
    return ctx.sessions.use<ReaderSession, T>(request.params.session, authId, 'reader', async (session) => {
      await ctx.access.require(authId, session.store, session.ns, 'reader');
      return fn(session);
    });
  };

  app.post<{ Params: { store: string }; Body: ReaderOpenBody }>(
    ROUTES.readerOpen,
    { schema: { params: StoreParams, body: ReaderOpenBody } },
    async (request) => {
      const ns = parseNamespace(request.body.ns);
      const group = makeGroup(request.body['backup-type'], request.body['backup-id']);
      const { ds, store, authId, lease } = await openStoreFor(
        ctx,
        request,
        request.params.store,
        ns,
        'reader',
      );
      const session = await ctx.sessions.open(
        authId,
        () => ReaderSession.open({ id: newSessionId(), authId, store, ds, ns, group, pool: ctx.chunkPool }),
        lease.retain().release,
      );
      const data: ReaderOpenData = { session: session.id };
      const prefetch = request.body.prefetch;
      if (prefetch) data.files = await prefetched(session, prefetch['backup-time'], prefetch['file-names']);
      return ok(data);
    },
  );

  app.delete<{ Params: SessionParamsT }>(
    ROUTES.reader,
    { schema: { params: SessionParams } },
    async (request) => {
      await ctx.sessions.close(request.params.session, authIdOf(request), 'reader', 'closed by client');
      return ok(null);
    },
  );

  app.get<{ Params: SessionParamsT; Querystring: DownloadQuery }>(
    ROUTES.readerDownload,
    { schema: { params: SessionParams, querystring: DownloadQuery } },
    async (request, reply) => {
      const name = parseArchiveName(request.query['file-name']);
      const bytes = await withReader(request, (s) => s.download(request.query['backup-time'], name));
      return reply.type(CONTENT_TYPE.octets).send(bytes);
    },
  );

  app.post<{ Params: SessionParamsT; Body: DigestListBody }>(
    ROUTES.readerChunks,
    { schema: { params: SessionParams, body: DigestListBody } },
    async (request, reply) => {
      const digests: Digest[] = request.body.digests.map(parseDigest);
      const frames = await withReader(request, async (s) => s.chunkFrames(digests));
      const first = await frames.next(); // fails as a normal error reply: nothing is sent yet
      // Written here rather than through reply.send(stream), so each chunk's memory is used again once the socket
      // has its bytes (see sendBuffers).
      reply.hijack();
      await sendPieces(reply.raw, CONTENT_TYPE.chunkFrames, first, frames, (piece) =>
        sendBuffers.give(piece),
      ).catch((err: unknown) => {
        ctx.log.error({ err, url: request.url }, 'batch download failed after its first byte');
      });
    },
  );

  app.post<{ Params: SessionParamsT; Body: ProveBody }>(
    ROUTES.readerProve,
    { schema: { params: SessionParams, body: ProveBody } },
    async (request) => {
      const digests = request.body.digests.map(parseDigest);
      const nonce = Buffer.from(request.body.nonce, 'hex');
      return ok(await withReader(request, (s) => s.prove(nonce, digests)));
    },
  );
}
