import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FerryError, isErrorCode } from '../errors/index.js';
import type { CryptMode, VerifyState } from '../format/index.js';
import {
  type ArchiveName,
  type AuthId,
  type DatastoreStatus,
  type GroupRef,
  makeGroup,
  type Namespace,
  type PruneOutcome,
  parseArchiveName,
  parseAuthId,
  parseNamespace,
  type SnapshotRef,
} from '../model/index.js';
import { type DatastoreStatusData, GroupItem, NamespaceItem, PruneItem, SnapshotItem } from './schemas.js';

/**
 * Listing results as the client hands them to its callers (model types), and their wire form. The server builds the
 * wire form from the datastore; the client parses it back with the model parsers, so a hostile or broken server
 * cannot smuggle a `..` into a name the sync engine then uses as a path.
 */
export interface RemoteGroup {
  group: GroupRef;
  owner: AuthId | undefined;
  /** Finished snapshots. */
  snapshotCount: number;
  lastSnapshot: number | undefined;
}

export interface RemoteSnapshotFile {
  filename: ArchiveName;
  /** Unknown for files of an in-progress snapshot. */
  size: number | undefined;
  cryptMode: CryptMode | undefined;
}

export interface RemoteSnapshot {
  snapshot: SnapshotRef;
  /** A snapshot directory without a manifest: a writer at work, or one that crashed. Sync skips these. */
  inProgress: boolean;
  protected: boolean;
  verifyState: VerifyState | undefined;
  /** SHA-256 of the manifest without its unprotected part; undefined while in progress. */
  protectedCsum: string | undefined;
  /** Sum of the manifest's file sizes; undefined while in progress. */
  size: number | undefined;
  files: RemoteSnapshotFile[];
}

/** Checks `value` against a response schema; FERRY_ERR_PROTOCOL names what was wrong. */
export function checkResponse<T extends TSchema>(schema: T, value: unknown, what: string): void {
  if (!Value.Check(schema, value)) {
    const first = Value.Errors(schema, value).First();
    throw new FerryError(
      'FERRY_ERR_PROTOCOL',
      `malformed ${what} from the server: ${first ? `${first.path || '/'}: ${first.message}` : 'invalid'}`,
    );
  }
}

/** Runs a model parser on server data: its FERRY_ERR_INVALID_VALUE becomes a protocol error (the server's fault). */
function fromServer<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new FerryError('FERRY_ERR_PROTOCOL', `malformed ${what} from the server`, { cause: err });
  }
}

export function namespaceToWire(ns: Namespace): NamespaceItem {
  return { ns };
}

export function namespaceFromWire(item: unknown): Namespace {
  checkResponse(NamespaceItem, item, 'namespace');
  return fromServer('namespace', () => parseNamespace((item as NamespaceItem).ns));
}

export function groupToWire(g: RemoteGroup): GroupItem {
  return {
    'backup-type': g.group.type,
    'backup-id': g.group.id,
    ...(g.owner !== undefined ? { owner: g.owner } : {}),
    'backup-count': g.snapshotCount,
    ...(g.lastSnapshot !== undefined ? { 'last-backup': g.lastSnapshot } : {}),
  };
}

export function groupFromWire(item: unknown): RemoteGroup {
  checkResponse(GroupItem, item, 'group');
  const g = item as GroupItem;
  return fromServer('group', () => ({
    group: makeGroup(g['backup-type'], g['backup-id']),
    owner: g.owner === undefined ? undefined : parseAuthId(g.owner),
    snapshotCount: g['backup-count'],
    lastSnapshot: g['last-backup'],
  }));
}

export function snapshotToWire(s: RemoteSnapshot): SnapshotItem {
  return {
    'backup-type': s.snapshot.group.type,
    'backup-id': s.snapshot.group.id,
    'backup-time': s.snapshot.time,
    files: s.files.map((f) => ({
      filename: f.filename,
      ...(f.size !== undefined ? { size: f.size } : {}),
      ...(f.cryptMode !== undefined ? { 'crypt-mode': f.cryptMode } : {}),
    })),
    ...(s.size !== undefined ? { size: s.size } : {}),
    'in-progress': s.inProgress,
    protected: s.protected,
    ...(s.protectedCsum !== undefined ? { 'protected-csum': s.protectedCsum } : {}),
    ...(s.verifyState !== undefined ? { verification: { state: s.verifyState } } : {}),
  };
}

export function snapshotFromWire(item: unknown): RemoteSnapshot {
  checkResponse(SnapshotItem, item, 'snapshot');
  const s = item as SnapshotItem;
  return fromServer('snapshot', () => ({
    snapshot: { group: makeGroup(s['backup-type'], s['backup-id']), time: s['backup-time'] },
    inProgress: s['in-progress'],
    protected: s.protected,
    verifyState: s.verification?.state,
    protectedCsum: s['protected-csum'],
    size: s.size,
    files: s.files.map((f) => ({
      filename: parseArchiveName(f.filename),
      size: f.size,
      cryptMode: f['crypt-mode'],
    })),
  }));
}

/** A prune's outcome for one snapshot: PBS's fields (`keep`, `protected`), and the mark, reason and result. */
export function pruneOutcomeToWire(o: PruneOutcome): PruneItem {
  return {
    'backup-type': o.snapshot.group.type,
    'backup-id': o.snapshot.group.id,
    'backup-time': o.snapshot.time,
    keep: o.mark !== 'remove',
    protected: o.mark === 'protected',
    mark: o.mark,
    ...(o.reason ? { reason: o.reason } : {}),
    removed: o.removed,
    ...(o.error ? { error: o.error } : {}),
  };
}

export function pruneOutcomeFromWire(item: unknown): PruneOutcome {
  checkResponse(PruneItem, item, 'prune result');
  const p = item as PruneItem;
  return fromServer('prune result', () => ({
    snapshot: { group: makeGroup(p['backup-type'], p['backup-id']), time: p['backup-time'] },
    mark: p.mark,
    ...(p.reason ? { reason: p.reason } : {}),
    removed: p.removed,
    // A code this client does not know is still a failure to report, not a protocol error.
    ...(p.error
      ? {
          error: {
            code: isErrorCode(p.error.code) ? p.error.code : 'FERRY_ERR_INTERNAL',
            message: p.error.message,
          },
        }
      : {}),
  }));
}

/** Its wire form (PBS's names where PBS has the field), which `ferry datastore status` prints too. */
export function statusToWire(s: DatastoreStatus): DatastoreStatusData {
  return {
    total: s.total,
    used: s.used,
    avail: s.avail,
    namespaces: s.namespaces,
    counts: s.counts,
    'logical-bytes': s.logicalBytes,
    chunks: s.chunks,
    'chunk-bytes': s.chunkBytes,
    'plain-chunk-bytes': s.plainChunkBytes,
    ...(s.dedupFactor !== undefined ? { 'dedup-factor': s.dedupFactor } : {}),
  };
}
