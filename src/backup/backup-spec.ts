import { type ArchiveName, invalid, parseArchiveName } from '../model/index.js';

export type SourceKind = 'img' | 'tar' | 'conf';

export interface BackupSource {
  kind: SourceKind;
  archive: ArchiveName;
  path: string;
}

const EXTENSION: Readonly<Record<SourceKind, string>> = { img: 'fidx', tar: 'didx', conf: 'blob' };

/** Parses `NAME.img:FILE`, `NAME.tar:DIR` or `NAME.conf:FILE`. */
export function parseBackupSpec(spec: string): BackupSource {
  const colon = spec.indexOf(':');
  if (colon < 0) invalid('backup source', spec, 'expected NAME.img:FILE, NAME.tar:DIR or NAME.conf:FILE');
  const label = spec.slice(0, colon);
  const path = spec.slice(colon + 1);
  const m = /^(.+)\.(img|tar|conf)$/.exec(label);
  if (!m) invalid('backup source', spec, 'the name must end in .img, .tar or .conf');
  if (path.length === 0) invalid('backup source', spec, 'no path after ":"');
  const kind = m[2] as SourceKind;
  return { kind, archive: parseArchiveName(`${label}.${EXTENSION[kind]}`), path };
}

/** Accepts `drive.img`, `drive.img.fidx`, `etc.tar`, `vm.conf` … and returns the archive's file name. */
export function resolveArchiveName(name: string): ArchiveName {
  const m = /^(.+)\.(img|tar|conf)$/.exec(name);
  if (m) return parseArchiveName(`${name}.${EXTENSION[m[2] as SourceKind]}`);
  return parseArchiveName(name);
}
