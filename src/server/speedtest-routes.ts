import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../errors/index.js';
import { CONTENT_TYPE, LIMITS, ROUTES, type SpeedtestData, SpeedtestQuery } from '../protocol/index.js';
import { sendPieces } from './send-pieces.js';
import { ok } from './server-context.js';

const PIECE = 1024 * 1024;
/** What a download sends, over and over: random, so a compressing link or proxy cannot shrink it. */
let payload: Buffer | undefined;

/**
 * The link speed test of `ferry benchmark --remote` (PBS's client benchmark measures its upload the same way): GET
 * sends `bytes` bytes, POST reads a body and drops it. Nothing touches a datastore and no role is needed: any caller
 * the server's authentication hook lets in may use them, within LIMITS.maxSpeedtestBytes per request (the caller of a
 * long test asks again).
 */
export function registerSpeedtestRoutes(app: FastifyInstance): void {
  app.get<{ Querystring: SpeedtestQuery }>(
    ROUTES.speedtest,
    { schema: { querystring: SpeedtestQuery } },
    async (request, reply) => {
      payload ??= randomBytes(PIECE);
      const pieces = sendBytes(payload, request.query.bytes);
      const first = await pieces.next();
      reply.hijack();
      await sendPieces(reply.raw, CONTENT_TYPE.octets, first, pieces, () => undefined).catch(() => {
        // the client went away: its own measurement says so
      });
    },
  );

  // The body is read here as it arrives (never buffered whole), so its parser hands over the request stream.
  app.addContentTypeParser(CONTENT_TYPE.speedtest, (_request, body, done) => done(null, body));
  app.post(ROUTES.speedtest, async (request) => {
    if (request.headers['content-type'] !== CONTENT_TYPE.speedtest) {
      throw new FerryError('FERRY_ERR_INVALID_VALUE', `expected a body of type ${CONTENT_TYPE.speedtest}`);
    }
    const tooLarge = () =>
      new FerryError(
        'FERRY_ERR_TOO_LARGE',
        `speed test upload of more than ${LIMITS.maxSpeedtestBytes} bytes`,
      );
    // Refused before a byte is read when the length says so (Node reads and drops the body, and the connection
    // serves on). A body without a length is counted as it comes, and one that runs over costs its connection:
    // replying and leaving the rest unread would block the connection's next request until the keep-alive timeout.
    if (Number(request.headers['content-length'] ?? 0) > LIMITS.maxSpeedtestBytes) throw tooLarge();
    const body = request.body as IncomingMessage;
    let bytes = 0;
    for await (const piece of body) {
      bytes += (piece as Buffer).length;
      if (bytes > LIMITS.maxSpeedtestBytes) {
        body.socket?.destroy();
        throw tooLarge();
      }
    }
    const data: SpeedtestData = { bytes };
    return ok(data);
  });
}

async function* sendBytes(source: Buffer, total: number): AsyncGenerator<Buffer> {
  for (let left = total; left > 0; left -= source.length)
    yield source.subarray(0, Math.min(left, source.length));
}
