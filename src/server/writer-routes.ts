import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FerryError } from '../errors/index.js';
import {
  makeGroup,
  makeSnapshot,
  parseArchiveName,
  parseAuthId,
  parseDigest,
  parseNamespace,
} from '../model/index.js';
import {
  type ChallengeData,
  CONTENT_TYPE,
  DigestListBody,
  FileNameQuery,
  FileUploadQuery,
  FRAME_HEADER_SIZE,
  LIMITS,
  ProofsBody,
  ROUTES,
  SessionParams,
  StoreParams,
  type UploadData,
  WriterOpenBody,
  type WriterOpenData,
} from '../protocol/index.js';
import { authIdOf, ok, openStoreFor, type ServerContext } from './server-context.js';
import { newSessionId } from './session-table.js';
import { WriterSession } from './writer-session.js';

interface SessionParamsT {
  session: string;
}

/** The most bytes a chunk upload body may declare: a full batch of frames. */
const MAX_UPLOAD_BODY = LIMITS.maxBatchBytes + LIMITS.maxBatchDigests * FRAME_HEADER_SIZE;

/** Writer sessions (used by push): open, previous, known, chunk upload, file upload, finish, abort. */
export function registerWriterRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const withWriter = <T>(
    request: FastifyRequest<{ Params: SessionParamsT }>,
    fn: (s: WriterSession) => Promise<T>,
  ) => {
    const authId = authIdOf(request);
    return ctx.sessions.use<WriterSession, T>(request.params.session, authId, 'writer', async (session) => {
      await ctx.access.require(authId, session.store, session.ns, 'backup');
      return fn(session);
    });
  };

  app.post<{ Params: { store: string }; Body: WriterOpenBody }>(
    ROUTES.writerOpen,
    { schema: { params: StoreParams, body: WriterOpenBody } },
    async (request) => {
      const b = request.body;
      const ns = parseNamespace(b.ns);
      const snapshot = makeSnapshot(makeGroup(b['backup-type'], b['backup-id']), b['backup-time']);
      const { ds, store, authId, lease } = await openStoreFor(
        ctx,
        request,
        request.params.store,
        ns,
        'backup',
      );
      const owner = b.owner === undefined ? authId : parseAuthId(b.owner);
      if (owner !== authId) await ctx.access.require(authId, store, ns, 'admin');
      const session = await ctx.sessions.open(
        authId,
        () =>
          WriterSession.open({
            id: newSessionId(),
            authId,
            owner,
            store,
            ds,
            ns,
            snapshot,
            log: ctx.log,
            pool: ctx.chunkPool,
          }),
        lease.retain().release,
      );
      const data: WriterOpenData = { session: session.id, 'previous-time': session.previous?.time ?? null };
      return ok(data);
    },
  );

  app.delete<{ Params: SessionParamsT }>(
    ROUTES.writer,
    { schema: { params: SessionParams } },
    async (request) => {
      await ctx.sessions.close(request.params.session, authIdOf(request), 'writer', 'aborted by client');
      return ok(null);
    },
  );

  app.get<{ Params: SessionParamsT; Querystring: FileNameQuery }>(
    ROUTES.writerPrevious,
    { schema: { params: SessionParams, querystring: FileNameQuery } },
    async (request, reply) => {
      const name = parseArchiveName(request.query['file-name']);
      const bytes = await withWriter(request, (s) => s.downloadPrevious(name));
      return reply.type(CONTENT_TYPE.octets).send(bytes);
    },
  );

  app.post<{ Params: SessionParamsT; Body: DigestListBody }>(
    ROUTES.writerChallenge,
    { schema: { params: SessionParams, body: DigestListBody } },
    async (request) => {
      const data: ChallengeData = {
        nonce: (await withWriter(request, async (s) => s.challenge())).toString('hex'),
      };
      return ok(data);
    },
  );

  app.post<{ Params: SessionParamsT; Body: ProofsBody }>(
    ROUTES.writerProve,
    { schema: { params: SessionParams, body: ProofsBody } },
    async (request) => {
      const digests = request.body.digests.map(parseDigest);
      if (request.body.proofs.length !== digests.length) {
        throw new FerryError('FERRY_ERR_INVALID_VALUE', 'one proof (or null) per digest is expected');
      }
      const proofs = request.body.proofs.map((p) => (p === null ? undefined : Buffer.from(p, 'hex')));
      const nonce = Buffer.from(request.body.nonce, 'hex');
      return ok(await withWriter(request, (s) => s.acceptProofs(nonce, digests, proofs)));
    },
  );

  app.post<{ Params: SessionParamsT; Body: DigestListBody }>(
    ROUTES.writerKnown,
    { schema: { params: SessionParams, body: DigestListBody } },
    async (request) => {
      const digests = request.body.digests.map(parseDigest);
      return ok(await withWriter(request, async (s) => s.known(digests)));
    },
  );

  app.post<{ Params: SessionParamsT }>(
    ROUTES.writerChunks,
    { schema: { params: SessionParams } },
    async (request) => {
      const declared = Number(request.headers['content-length'] ?? Number.NaN);
      if (declared > MAX_UPLOAD_BODY) {
        throw new FerryError(
          'FERRY_ERR_TOO_LARGE',
          `chunk upload of ${declared} bytes, more than ${MAX_UPLOAD_BODY}`,
        );
      }
      if (request.headers['content-type'] !== CONTENT_TYPE.chunkFrames) {
        throw new FerryError(
          'FERRY_ERR_INVALID_VALUE',
          `expected a body of type ${CONTENT_TYPE.chunkFrames}`,
        );
      }
      const body = request.body as IncomingMessage;
      const r = await withWriter(request, (s) => s.uploadChunks(body));
      const data: UploadData = { chunks: r.chunks, 'new-chunks': r.newChunks, bytes: r.bytes };
      return ok(data);
    },
  );

  app.post<{ Params: SessionParamsT; Querystring: FileUploadQuery; Body: Buffer }>(
    ROUTES.writerFile,
    { schema: { params: SessionParams, querystring: FileUploadQuery }, bodyLimit: LIMITS.maxFileBody },
    async (request) => {
      const name = parseArchiveName(request.query['file-name']);
      const body = requireBuffer(request.body);
      await withWriter(request, (s) => s.uploadFile(name, body, request.query['crypt-mode'] ?? 'none'));
      return ok(null);
    },
  );

  app.post<{ Params: SessionParamsT; Body: Buffer }>(
    ROUTES.writerFinish,
    { schema: { params: SessionParams }, bodyLimit: LIMITS.maxManifestBody },
    async (request) => {
      const body = requireBuffer(request.body);
      const authId = authIdOf(request);
      await withWriter(request, (s) => s.finish(body));
      ctx.sessions.forget(request.params.session);
      ctx.log.info({ session: request.params.session, authId }, 'snapshot published');
      return ok(null);
    },
  );
}

function requireBuffer(body: unknown): Buffer {
  if (!Buffer.isBuffer(body)) {
    throw new FerryError('FERRY_ERR_INVALID_VALUE', `expected a body of type ${CONTENT_TYPE.octets}`);
  }
  return body;
}
