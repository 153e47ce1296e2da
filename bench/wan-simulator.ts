/**
 * WAN simulator: a TCP proxy on 127.0.0.1 that makes a local server look far away.
 *
 * What it models, per accepted connection and per direction (up = client → server, down = server → client):
 * - a one-way delay: every byte reaches the destination `delay` ms after the proxy read it, order preserved;
 * - a window: at most `windowBytes` unacknowledged bytes in flight; a byte is acknowledged one round trip
 *   (up + down delay) after it was sent and only once it has been handed to the destination socket, so one
 *   connection carries at most W / RTT bytes/s and a receiver that stops reading stops the sender, as in TCP;
 * - an optional bandwidth cap: one token bucket per direction shared by all connections (a shared link is
 *   shared by everyone using it, and real access links are asymmetric, so up and down are capped separately);
 * - counters: connections, bytes delivered each way, and HTTP/1.1 requests seen going up.
 *
 * What it does not model: packet loss, slow start, congestion control, the handshake round trip of a new
 * connection (connect completes at loopback speed), jitter. It is a flow model, not a packet-level emulator.
 *
 * Backpressure is real: when the window is full the source socket is paused, so the kernel buffers fill and
 * the peer's write() starts returning false; when the destination's write() returns false delivery stops until
 * 'drain'. Each direction keeps one FIFO of segments and one timer armed for the earliest pending event, never
 * a timer per chunk.
 */

import type { Server } from 'node:net';
import { createServer, Socket } from 'node:net';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface WanTarget {
  readonly host: string;
  readonly port: number;
}

export interface WanSimulatorOptions {
  readonly target: WanTarget;
  /** One-way delay in ms, the same both ways or `{ up, down }` (up = client → server). */
  readonly oneWayDelayMs: number | { readonly up: number; readonly down: number };
  /** Bytes in flight allowed per connection and direction; `Infinity` for no window. */
  readonly windowBytes: number;
  /** Cap per direction, shared by all connections; absent for no cap. */
  readonly bandwidthBytesPerSec?: number;
  /** Parse the client → server stream as HTTP/1.1 and count requests. */
  readonly countHttpRequests?: boolean;
  /** Port to listen on, 0 (any free port) by default. */
  readonly port?: number;
}

export interface WanStats {
  /** Connections accepted since start or the last resetStats(). */
  connections: number;
  /** Connections currently open (not reset by resetStats()). */
  openConnections: number;
  /** Bytes handed to the server side. */
  bytesUp: number;
  /** Bytes handed to the client side. */
  bytesDown: number;
  /** HTTP/1.1 requests seen client → server; 0 unless countHttpRequests. */
  httpRequests: number;
}

export interface WanSimulator {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  stats(): WanStats;
  resetStats(): void;
  /** Stops listening and destroys every live connection; resolves once all sockets are closed. */
  close(): Promise<void>;
}

/**
 * Bytes that may wait in one direction's queue without being handed to the destination. With a finite window
 * the window is the real limit; this only bounds memory when the window is infinite.
 */
const MAX_UNDELIVERED_BYTES = 64 * 1024 * 1024;

/** Larger than the 16 KiB default so one timer tick can hand several read-sized chunks to the kernel at once. */
const SOCKET_WRITE_HIGH_WATER_MARK = 1024 * 1024;

/**
 * net.Socket hands stream options through to its Duplex (so the hwm takes effect); @types/node does not declare
 * them, hence a plain object rather than a literal at the call.
 */
const TARGET_SOCKET_OPTIONS = { allowHalfOpen: true, writableHighWaterMark: SOCKET_WRITE_HIGH_WATER_MARK };

/** Bytes per read from the target (libuv reads 64 KiB at a time into the memory Node gives it). */
const READ_BUFFER_SIZE = 64 * 1024;

/** Free read buffers kept for reuse: 16 MiB, more than a 4 MiB window's worth for every connection of a sync job. */
const MAX_FREE_READ_BUFFERS = 256;

/** Header bytes the request counter buffers before it gives up on the connection. */
const MAX_HTTP_HEAD_BYTES = 64 * 1024;

interface MutableCounters {
  connections: number;
  bytesUp: number;
  bytesDown: number;
  httpRequests: number;
}

/**
 * Token bucket with debt: a chunk larger than the bucket still passes, it just leaves later, so the long-run
 * rate is exact whatever the chunk sizes. Departure times it hands out never go backwards.
 */
class TokenBucket {
  private readonly bytesPerMs: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;

  constructor(bytesPerSec: number, now: number) {
    this.bytesPerMs = bytesPerSec / 1000;
    // 10 ms worth: enough to absorb timer jitter, small enough that a short test still sees the cap.
    this.burst = Math.max(16 * 1024, bytesPerSec / 100);
    this.tokens = this.burst;
    this.last = now;
  }

  /** Takes `bytes` from the bucket and returns when the last of them has left the bottleneck. */
  take(bytes: number, now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.bytesPerMs);
    this.last = now;
    this.tokens -= bytes;
    return this.tokens >= 0 ? now : now - this.tokens / this.bytesPerMs;
  }
}

/**
 * Read memory for the sockets the simulator opens to the target, which carry the heavy direction of a pull (the
 * server's answers). Each read lands in a 64 KiB buffer from here (`onread`), and the buffer comes back once every
 * segment cut from it has been written on to the client. Without it every read was fresh external memory held for
 * the one-way delay, and V8 answered the growing external memory with a full collection every few dozen MiB: ~30 %
 * of the bench process's main thread, which also runs the sync job's coordinator, during a 4-thread pull.
 */
class ReadBuffers {
  private readonly free: ArrayBuffer[] = [];
  /** Segments (delivered or not) still referring to each buffer's memory. */
  private readonly refs = new WeakMap<ArrayBufferLike, number>();

  /** Memory for the next read (Node asks after each read). */
  readonly take = (): Buffer => {
    const memory = this.free.pop();
    return memory === undefined ? Buffer.allocUnsafeSlow(READ_BUFFER_SIZE) : Buffer.from(memory);
  };

  /** `memory` was just read into: one segment refers to it. */
  hold(memory: ArrayBufferLike): void {
    this.refs.set(memory, 1);
  }

  /** One more segment refers to `memory` (a read split at the window's edge). */
  share(memory: ArrayBufferLike): void {
    this.refs.set(memory, (this.refs.get(memory) ?? 0) + 1);
  }

  /** A segment cut from `memory` has been handed to the kernel: the last one gives the memory back. */
  written(memory: ArrayBufferLike): void {
    const left = (this.refs.get(memory) ?? 1) - 1;
    if (left > 0) {
      this.refs.set(memory, left);
      return;
    }
    this.refs.delete(memory);
    if (this.free.length < MAX_FREE_READ_BUFFERS && memory instanceof ArrayBuffer) this.free.push(memory);
  }
}

/**
 * Counts HTTP/1.1 requests in a client → server byte stream: request line and headers up to CRLFCRLF, then a
 * body framed by Content-Length or chunked transfer coding. After CONNECT or an upgrade it stops counting
 * (the rest is not HTTP), and likewise after a head too large to be sane.
 */
export class HttpRequestCounter {
  count = 0;
  private state: 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'opaque' =
    'head';
  private carry: Buffer = Buffer.alloc(0);
  private line = '';
  private remaining = 0;

  feed(data: Buffer): void {
    let pos = 0;
    while (pos < data.length) {
      switch (this.state) {
        case 'opaque':
          return;
        case 'head':
          pos = this.readHead(data, pos);
          break;
        case 'body':
        case 'chunk-data':
        case 'chunk-crlf': {
          const take = Math.min(this.remaining, data.length - pos);
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            if (this.state === 'body') this.state = 'head';
            else if (this.state === 'chunk-data') {
              this.state = 'chunk-crlf';
              this.remaining = 2;
            } else this.state = 'chunk-size';
          }
          break;
        }
        case 'chunk-size':
        case 'trailers': {
          const nl = data.indexOf(10, pos);
          if (nl < 0) {
            this.line += data.toString('latin1', pos);
            if (this.line.length > MAX_HTTP_HEAD_BYTES) this.state = 'opaque';
            return;
          }
          const text = (this.line + data.toString('latin1', pos, nl)).trim();
          this.line = '';
          pos = nl + 1;
          if (this.state === 'trailers') {
            if (text === '') this.state = 'head';
          } else {
            const size = Number.parseInt(text.split(';')[0] ?? '', 16);
            if (!Number.isFinite(size) || size < 0) this.state = 'opaque';
            else if (size === 0) this.state = 'trailers';
            else {
              this.state = 'chunk-data';
              this.remaining = size;
            }
          }
          break;
        }
      }
    }
  }

  /** Consumes head bytes from `pos`; returns the new position. */
  private readHead(data: Buffer, pos: number): number {
    let start = pos;
    if (this.carry.length === 0) {
      // Blank lines before a request line are allowed (RFC 9112 §2.2).
      while (start < data.length && (data[start] === 13 || data[start] === 10)) start++;
      if (start === data.length) return start;
    }
    const head =
      this.carry.length === 0 ? data.subarray(start) : Buffer.concat([this.carry, data.subarray(start)]);
    const end = head.indexOf('\r\n\r\n', Math.max(0, this.carry.length - 3), 'latin1');
    if (end < 0) {
      this.carry = Buffer.from(head);
      if (this.carry.length > MAX_HTTP_HEAD_BYTES) this.state = 'opaque';
      return data.length;
    }
    const consumed = end + 4 - this.carry.length;
    this.carry = Buffer.alloc(0);
    this.onHead(head.toString('latin1', 0, end));
    return start + consumed;
  }

  private onHead(text: string): void {
    this.count++;
    const lines = text.split('\r\n');
    const method = (lines[0] ?? '').split(' ')[0] ?? '';
    let contentLength = 0;
    let chunked = false;
    let upgrade = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line
        .slice(colon + 1)
        .trim()
        .toLowerCase();
      if (name === 'content-length') contentLength = Number.parseInt(value, 10);
      else if (name === 'transfer-encoding') chunked = value.split(',').at(-1)?.trim() === 'chunked';
      else if (name === 'upgrade') upgrade = true;
    }
    if (method === 'CONNECT' || upgrade) this.state = 'opaque';
    else if (chunked) this.state = 'chunk-size';
    else if (contentLength > 0) {
      this.state = 'body';
      this.remaining = contentLength;
    } else if (!Number.isFinite(contentLength) || contentLength < 0) this.state = 'opaque';
    else this.state = 'head';
  }
}

interface Segment {
  /** undefined once delivered, and for the end-of-stream marker. */
  chunk: Buffer | undefined;
  readonly isEnd: boolean;
  readonly deliverAt: number;
  readonly ackAt: number;
  /** Stream offset just past this segment. */
  readonly seqEnd: number;
}

interface PipeOptions {
  readonly source: Socket;
  readonly dest: Socket;
  readonly direction: 'up' | 'down';
  readonly delayMs: number;
  readonly rttMs: number;
  readonly windowBytes: number;
  readonly bucket: TokenBucket | undefined;
  readonly counters: MutableCounters;
  readonly httpCounter: HttpRequestCounter | undefined;
  /** Where the source socket reads into (it was made with `onread`, calling `onRead`); undefined: 'data' events. */
  readonly readBuffers?: ReadBuffers;
}

/**
 * One direction of one connection. Segments live in one array: [ackIdx, deliverIdx) were delivered and
 * wait for their acknowledgement, [deliverIdx, end) wait for their delivery time. Both times only grow along
 * the array, so one timer armed for the earliest of the two heads is enough.
 */
class DirectionPipe {
  private readonly source: Socket;
  private readonly dest: Socket;
  private readonly isUp: boolean;
  private readonly delayMs: number;
  private readonly rttMs: number;
  private readonly windowBytes: number;
  private readonly bucket: TokenBucket | undefined;
  private readonly counters: MutableCounters;
  private readonly httpCounter: HttpRequestCounter | undefined;
  private readonly readBuffers: ReadBuffers | undefined;
  /** Memory of the segments written to `dest` whose write has not completed yet, in write order. */
  private writing: ArrayBufferLike[] = [];
  /** Neither delay nor round trip nor cap: a plain pipe with backpressure, no segments and no timers. */
  private readonly isDirect: boolean;
  /** Acks come from the timer; otherwise a byte counts as acknowledged once delivered. */
  private readonly hasTimedAcks: boolean;

  private segments: Segment[] = [];
  private ackIdx = 0;
  private deliverIdx = 0;
  private sentSeq = 0;
  private ackedSeq = 0;
  private deliveredSeq = 0;
  private lastDeliverAt = 0;
  /** Bytes read from the source that did not fit in the window yet. */
  private held: Buffer[] = [];
  private isSourceEnded = false;
  private isEndQueued = false;
  private isSourcePaused = false;
  private isDestBlocked = false;
  private isStopped = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(options: PipeOptions) {
    this.source = options.source;
    this.dest = options.dest;
    this.isUp = options.direction === 'up';
    this.delayMs = options.delayMs;
    this.rttMs = options.rttMs;
    this.windowBytes = options.windowBytes;
    this.bucket = options.bucket;
    this.counters = options.counters;
    this.httpCounter = options.httpCounter;
    this.readBuffers = options.readBuffers;
    this.hasTimedAcks = this.rttMs > 0 || this.bucket !== undefined;
    this.isDirect = this.delayMs === 0 && !this.hasTimedAcks;
    this.source.on('data', this.onData);
    this.source.on('end', this.onSourceEnd);
    this.dest.on('drain', this.onDrain);
  }

  /** Drops everything queued; the connection is going away. */
  stop(): void {
    this.isStopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.segments = [];
    this.held = [];
    this.writing = []; // memory a dead socket may still hold is left to the collector
  }

  /** The source's `onread` callback: `nread` bytes arrived in `buffer` (from readBuffers). */
  readonly onRead = (nread: number, buffer: Buffer): boolean => {
    this.readBuffers?.hold(buffer.buffer);
    this.onData(buffer.subarray(0, nread));
    return true; // pausing is pauseSource's
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.isStopped) return;
    this.httpCounter?.feed(chunk);
    if (this.isDirect) {
      this.count(chunk.length);
      if (!this.write(chunk)) {
        this.isDestBlocked = true;
        this.pauseSource();
      }
      return;
    }
    if (this.held.length > 0) {
      this.held.push(chunk);
      this.pauseSource();
      return;
    }
    const now = performance.now();
    this.admit(chunk, now);
    this.deliverDue(now);
    this.schedule();
  };

  private readonly onSourceEnd = (): void => {
    if (this.isStopped) return;
    this.isSourceEnded = true;
    if (this.isDirect) {
      this.dest.end();
      return;
    }
    if (this.held.length === 0) this.queueEnd(performance.now());
  };

  private readonly onDrain = (): void => {
    if (this.isStopped || !this.isDestBlocked) return;
    this.isDestBlocked = false;
    if (this.isDirect) {
      this.resumeSource();
      return;
    }
    this.tick();
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (!this.isStopped) this.tick();
  };

  private tick(): void {
    const now = performance.now();
    this.deliverDue(now);
    this.processAcks(now);
    this.refill(now);
    this.schedule();
  }

  private room(): number {
    return Math.min(
      this.windowBytes - (this.sentSeq - this.ackedSeq),
      MAX_UNDELIVERED_BYTES - (this.sentSeq - this.deliveredSeq),
    );
  }

  /** Sends what fits in the window and holds the rest, pausing the source once the window is full. */
  private admit(chunk: Buffer, now: number): void {
    const room = this.room();
    if (chunk.length <= room) {
      this.send(chunk, now);
      if (room === chunk.length) this.pauseSource();
      return;
    }
    if (room > 0) {
      this.readBuffers?.share(chunk.buffer);
      this.send(chunk.subarray(0, room), now);
    }
    this.held.push(room > 0 ? chunk.subarray(room) : chunk);
    this.pauseSource();
  }

  private send(chunk: Buffer, now: number): void {
    const departAt = this.bucket === undefined ? now : this.bucket.take(chunk.length, now);
    this.sentSeq += chunk.length;
    const deliverAt = Math.max(departAt + this.delayMs, this.lastDeliverAt);
    this.lastDeliverAt = deliverAt;
    this.segments.push({
      chunk,
      isEnd: false,
      deliverAt,
      ackAt: departAt + this.rttMs,
      seqEnd: this.sentSeq,
    });
  }

  private queueEnd(now: number): void {
    if (this.isEndQueued) return;
    this.isEndQueued = true;
    const at = Math.max(now + this.delayMs, this.lastDeliverAt);
    this.segments.push({ chunk: undefined, isEnd: true, deliverAt: at, ackAt: at, seqEnd: this.sentSeq });
    this.deliverDue(now);
    this.schedule();
  }

  private deliverDue(now: number): void {
    const segments = this.segments;
    let isCorked = false;
    while (this.deliverIdx < segments.length && !this.isDestBlocked) {
      const segment = segments[this.deliverIdx] as Segment;
      if (segment.deliverAt > now) break;
      this.deliverIdx++;
      if (segment.isEnd) {
        this.dest.end();
        break;
      }
      const chunk = segment.chunk as Buffer;
      segment.chunk = undefined;
      if (!isCorked && this.deliverIdx < segments.length) {
        this.dest.cork();
        isCorked = true;
      }
      this.deliveredSeq = segment.seqEnd;
      this.count(chunk.length);
      if (!this.write(chunk)) this.isDestBlocked = true;
    }
    if (isCorked) this.dest.uncork();
    if (!this.hasTimedAcks) {
      this.ackIdx = this.deliverIdx;
      this.ackedSeq = this.deliveredSeq;
      this.compact();
    }
  }

  private processAcks(now: number): void {
    const segments = this.segments;
    while (this.ackIdx < this.deliverIdx) {
      const segment = segments[this.ackIdx] as Segment;
      if (segment.ackAt > now) break;
      this.ackedSeq = segment.seqEnd;
      this.ackIdx++;
    }
    this.compact();
  }

  private compact(): void {
    if (this.ackIdx > 1024 && this.ackIdx * 2 > this.segments.length) {
      this.segments.splice(0, this.ackIdx);
      this.deliverIdx -= this.ackIdx;
      this.ackIdx = 0;
    }
  }

  /** Moves held bytes into the window as acks free it, then lets the source flow again. */
  private refill(now: number): void {
    while (this.held.length > 0) {
      const room = this.room();
      if (room <= 0) return;
      const chunk = this.held[0] as Buffer;
      if (chunk.length <= room) {
        this.held.shift();
        this.send(chunk, now);
      } else {
        this.readBuffers?.share(chunk.buffer);
        this.send(chunk.subarray(0, room), now);
        this.held[0] = chunk.subarray(room);
        return;
      }
    }
    if (this.isSourceEnded) this.queueEnd(now);
    else if (this.room() > 0) this.resumeSource();
    this.deliverDue(now);
  }

  private schedule(): void {
    let at = Number.POSITIVE_INFINITY;
    if (!this.isDestBlocked && this.deliverIdx < this.segments.length) {
      at = (this.segments[this.deliverIdx] as Segment).deliverAt;
    }
    if (this.ackIdx < this.deliverIdx) at = Math.min(at, (this.segments[this.ackIdx] as Segment).ackAt);
    if (at === Number.POSITIVE_INFINITY) return;
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    // setTimeout may fire a fraction of a millisecond early by performance.now(); tick() then re-arms.
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(at - performance.now())));
  }

  /** Writes `chunk` on to the destination; with readBuffers, its memory goes back once the kernel has it. */
  private write(chunk: Buffer): boolean {
    if (this.readBuffers === undefined) return this.dest.write(chunk);
    this.writing.push(chunk.buffer);
    return this.dest.write(chunk, this.onWritten);
  }

  private readonly onWritten = (err?: Error | null): void => {
    const memory = this.writing.shift();
    if (memory !== undefined && !err && !this.isStopped) this.readBuffers?.written(memory);
  };

  private count(bytes: number): void {
    if (this.isUp) this.counters.bytesUp += bytes;
    else this.counters.bytesDown += bytes;
  }

  private pauseSource(): void {
    if (this.isSourcePaused) return;
    this.isSourcePaused = true;
    this.source.pause();
  }

  private resumeSource(): void {
    if (!this.isSourcePaused) return;
    this.isSourcePaused = false;
    this.source.resume();
  }
}

/** Ends a socket with RST when it can (the peer sees ECONNRESET, as it would from a real reset). */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

function onceClosed(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((done) => socket.once('close', () => done()));
}

function delaysOf(option: WanSimulatorOptions['oneWayDelayMs']): { up: number; down: number } {
  const delays = typeof option === 'number' ? { up: option, down: option } : option;
  for (const value of [delays.up, delays.down]) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`one-way delay ${value} ms is not valid`);
  }
  return { up: delays.up, down: delays.down };
}

/** Starts the proxy; resolves once it listens. */
export async function startWanSimulator(options: WanSimulatorOptions): Promise<WanSimulator> {
  const delays = delaysOf(options.oneWayDelayMs);
  const rttMs = delays.up + delays.down;
  const windowBytes = options.windowBytes;
  if (!(windowBytes > 0)) throw new RangeError(`window ${windowBytes} bytes is not valid`);
  const cap = options.bandwidthBytesPerSec;
  if (cap !== undefined && !(cap > 0 && Number.isFinite(cap))) {
    throw new RangeError(`bandwidth ${cap} bytes/s is not valid`);
  }
  const now = performance.now();
  const buckets =
    cap === undefined ? undefined : { up: new TokenBucket(cap, now), down: new TokenBucket(cap, now) };
  const counters: MutableCounters = { connections: 0, bytesUp: 0, bytesDown: 0, httpRequests: 0 };
  const httpCounters = new Set<HttpRequestCounter>();
  const readBuffers = new ReadBuffers();
  /** httpRequests = counted before the last reset by live counters subtracted out, plus what they count now. */
  let httpBaseline = 0;
  const live = new Map<Socket, { readonly sockets: readonly Socket[]; abort(isReset: boolean): void }>();
  let isClosing = false;

  const onConnection = (client: Socket): void => {
    if (isClosing) {
      client.destroy();
      return;
    }
    counters.connections++;
    client.setNoDelay(true);
    let down: DirectionPipe | undefined;
    // `onread` is a documented option of new Socket() that @types/node declares only for connect(): hence the
    // object built apart, like TARGET_SOCKET_OPTIONS.
    const serverOptions = {
      ...TARGET_SOCKET_OPTIONS,
      onread: { buffer: readBuffers.take, callback: (n: number, b: Buffer) => down?.onRead(n, b) ?? true },
    };
    const server = new Socket(serverOptions);
    server.setNoDelay(true);
    server.connect({ host: options.target.host, port: options.target.port });
    const httpCounter = options.countHttpRequests === true ? new HttpRequestCounter() : undefined;
    if (httpCounter !== undefined) httpCounters.add(httpCounter);
    down = new DirectionPipe({
      source: server,
      dest: client,
      direction: 'down',
      delayMs: delays.down,
      rttMs,
      windowBytes,
      bucket: buckets?.down,
      counters,
      httpCounter: undefined,
      readBuffers,
    });
    const pipes = [
      new DirectionPipe({
        source: client,
        dest: server,
        direction: 'up',
        delayMs: delays.up,
        rttMs,
        windowBytes,
        bucket: buckets?.up,
        counters,
        httpCounter,
      }),
      down,
    ];
    let isAborted = false;
    const abort = (isReset: boolean): void => {
      if (isAborted) return;
      isAborted = true;
      for (const pipe of pipes) pipe.stop();
      for (const socket of [client, server]) {
        if (isReset) resetSocket(socket);
        else socket.destroy();
      }
    };
    live.set(client, { sockets: [client, server], abort });
    // An error on either side is a reset of the whole connection: the other peer must not wait forever.
    client.on('error', () => abort(true));
    server.on('error', () => abort(true));
    for (const socket of [client, server]) {
      // A socket that closes before its peer finished sending was torn down, not half-closed.
      socket.on('close', (hadError) => {
        if (hadError || !socket.readableEnded) abort(true);
      });
    }
    void Promise.all([onceClosed(client), onceClosed(server)]).then(() => {
      live.delete(client);
      if (httpCounter !== undefined) {
        httpBaseline += httpCounter.count;
        httpCounters.delete(httpCounter);
      }
    });
  };

  const listener: Server = createServer(
    { allowHalfOpen: true, highWaterMark: SOCKET_WRITE_HIGH_WATER_MARK },
    onConnection,
  );
  await new Promise<void>((done, fail) => {
    listener.once('error', fail);
    listener.listen(options.port ?? 0, '127.0.0.1', () => {
      listener.off('error', fail);
      done();
    });
  });
  // After listening, an 'error' is a failed accept (EMFILE and the like): that one connection is lost, the
  // listener goes on, and the process must not die of an unhandled event.
  listener.on('error', () => {});
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('wan simulator has no TCP address');
  const port = address.port;
  let closed: Promise<void> | undefined;

  const httpRequests = (): number => {
    let total = httpBaseline;
    for (const counter of httpCounters) total += counter.count;
    return total;
  };

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stats: () => ({
      connections: counters.connections,
      openConnections: live.size,
      bytesUp: counters.bytesUp,
      bytesDown: counters.bytesDown,
      httpRequests: httpRequests(),
    }),
    resetStats: () => {
      counters.connections = 0;
      counters.bytesUp = 0;
      counters.bytesDown = 0;
      httpBaseline -= httpRequests();
    },
    close: () => {
      if (closed !== undefined) return closed;
      isClosing = true;
      const listenerClosed = new Promise<void>((done) => listener.close(() => done()));
      const sockets: Socket[] = [];
      for (const connection of live.values()) {
        sockets.push(...connection.sockets);
        connection.abort(false);
      }
      closed = Promise.all([listenerClosed, ...sockets.map(onceClosed)]).then(() => {
        live.clear();
      });
      return closed;
    },
  };
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** Parses `4MiB`, `256KiB`, `10MB`, `1000` or `inf` into bytes. */
export function parseByteSize(text: string): number {
  if (/^(inf|infinity|unlimited)$/i.test(text.trim())) return Number.POSITIVE_INFINITY;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = SIZE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (match === null || unit === undefined)
    throw new RangeError(`${JSON.stringify(text)} is not a byte size`);
  return Math.round(Number(match[1]) * unit);
}

function parseTarget(text: string): WanTarget {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new RangeError(`target ${JSON.stringify(text)} is not host:port`);
  }
  return { host: text.slice(0, colon), port };
}

/**
 * `node --import tsx bench/wan-simulator.ts --target HOST:PORT [--delay MS | --delay-up MS --delay-down MS]
 *  [--window SIZE] [--bandwidth SIZE] [--port N] [--count-http]` — prints `{"port":…}` once listening and runs
 * until SIGINT/SIGTERM.
 */
export async function runWanSimulatorCli(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      target: { type: 'string' },
      delay: { type: 'string', default: '0' },
      'delay-up': { type: 'string' },
      'delay-down': { type: 'string' },
      window: { type: 'string', default: 'inf' },
      bandwidth: { type: 'string' },
      port: { type: 'string', default: '0' },
      'count-http': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.target === undefined) throw new RangeError('--target HOST:PORT is required');
  const delay = Number(values.delay);
  const simulator = await startWanSimulator({
    target: parseTarget(values.target),
    oneWayDelayMs: { up: Number(values['delay-up'] ?? delay), down: Number(values['delay-down'] ?? delay) },
    windowBytes: parseByteSize(values.window),
    ...(values.bandwidth === undefined ? {} : { bandwidthBytesPerSec: parseByteSize(values.bandwidth) }),
    countHttpRequests: values['count-http'],
    port: Number(values.port),
  });
  process.stdout.write(`${JSON.stringify({ port: simulator.port })}\n`);
  const stop = (): void => {
    void simulator.close().then(() => process.stderr.write(`${JSON.stringify(simulator.stats())}\n`));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runWanSimulatorCli(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`wan-simulator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  });
}
