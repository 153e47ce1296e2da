import { parseManifestBlob } from '../format/index.js';
import type { ArchiveName } from '../model/index.js';
import type { SourceGroupReader } from './sync-types.js';

/**
 * A snapshot's files from the source, asked for ahead of use: the manifest, then every archive it lists at once, so
 * a snapshot costs one round trip for all its indexes and blobs rather than one each. syncGroup asks for the next
 * snapshot's files while the current one's chunks move, so over a long link a group with several snapshots does not
 * stop for two round trips between them.
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

  /** Downloads the manifest, then starts every archive's download; resolves once the manifest is here. */
  static fetch(reader: SourceGroupReader, time: number): Promise<SnapshotFiles> {
    return quiet(
      (async () => {
        const manifestBlob = await reader.readManifest(time);
        const archives = new Map<string, Promise<Buffer>>();
        if (manifestBlob !== undefined) {
          for (const name of archiveNames(manifestBlob)) {
            archives.set(name, quiet(reader.readArchive(time, name)));
          }
        }
        return new SnapshotFiles(reader, time, manifestBlob, archives);
      })(),
    );
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
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
