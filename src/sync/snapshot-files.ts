import { chunksEncrypted, parseArchiveIndex, parseManifestBlob } from '../format/index.js';
import { type ArchiveName, archiveKind } from '../model/index.js';
import type { AheadIndex } from './chunk-mover.js';
import type { SourceGroupReader } from './sync-types.js';

/**
 * A snapshot's files from the source, asked for ahead of use: the manifest and, with it, every archive the snapshot
 * listing named (else every archive the manifest lists, once it is here), so a snapshot costs one round trip for its
 * manifest, indexes and blobs rather than one each. syncGroup asks for the next snapshot's files while the current
 * one's chunks move, so over a long link a group with several snapshots does not stop for round trips between them.
 *
 * Nothing is checked here: the manifest is parsed only to learn the archive names (a bad one just means nothing is
 * asked for ahead), and every download's failure surfaces where syncSnapshot/syncArchive await it, in their context.
 * A prefetch nobody awaits (the group failed first) fails quietly.
 */
export class SnapshotFiles {
  /** The manifest blob's bytes, or undefined when the snapshot vanished from the source. */
  readonly manifestBlob: Buffer | undefined;
  private readonly reader: SourceGroupReader;
  private readonly time: number;
  private readonly archives: Map<string, Promise<Buffer>>;

  private constructor(
    reader: SourceGroupReader,
    time: number,
    manifestBlob: Buffer | undefined,
    archives: Map<string, Promise<Buffer>>,
  ) {
    this.reader = reader;
    this.time = time;
    this.manifestBlob = manifestBlob;
    this.archives = archives;
  }

  /**
   * Downloads the manifest and, at the same time, the archives the listing named (`listed`); once the manifest is
   * here, starts any archive it lists that was not named, and drops those it does not list. Resolves once the
   * manifest is here.
   */
  static fetch(
    reader: SourceGroupReader,
    time: number,
    listed: readonly ArchiveName[] = [],
  ): Promise<SnapshotFiles> {
    const early = new Map(listed.map((name) => [name as string, quiet(reader.readArchive(time, name))]));
    return quiet(
      (async () => {
        const manifestBlob = await reader.readManifest(time);
        const archives = new Map<string, Promise<Buffer>>();
        if (manifestBlob !== undefined) {
          for (const name of archiveNames(manifestBlob)) {
            archives.set(name, early.get(name) ?? quiet(reader.readArchive(time, name)));
          }
        }
        return new SnapshotFiles(reader, time, manifestBlob, archives);
      })(),
    );
  }

  /**
   * The snapshot's archive indexes, each checked against the manifest (size and checksum), for fetching its chunks
   * ahead; anything that fails is left out here and met by the snapshot's own sync. Leaves the downloads in place.
   */
  async checkedIndexes(): Promise<AheadIndex[]> {
    const out: AheadIndex[] = [];
    try {
      if (this.manifestBlob === undefined) return out;
      for (const file of parseManifestBlob(this.manifestBlob).files) {
        const kind = archiveKind(file.filename);
        const download = this.archives.get(file.filename);
        if (kind === 'blob' || download === undefined) continue;
        const index = parseArchiveIndex(kind, await download);
        if (index.size === file.size && index.csum().toString('hex') === file.csum)
          out.push({ index, encrypted: chunksEncrypted(file) });
      }
    } catch {
      // A bad manifest or index fetches nothing ahead.
    }
    return out;
  }

  /** An archive's bytes: the download started ahead, or a fresh one. Each archive is handed out once. */
  archive(name: ArchiveName): Promise<Buffer> {
    const ahead = this.archives.get(name);
    this.archives.delete(name);
    return ahead ?? this.reader.readArchive(this.time, name);
  }
}

function archiveNames(manifestBlob: Buffer): ArchiveName[] {
  try {
    return parseManifestBlob(manifestBlob).files.map((f) => f.filename);
  } catch {
    return [];
  }
}

/** Marks a promise's rejection as handled here while keeping it for whoever awaits it later. */
export function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
