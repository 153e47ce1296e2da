/**
 * The 8-byte magic numbers of PBS's file formats. Each is the first 8 bytes of the SHA-256 of a fixed string (see
 * docs/FORMAT.md); they are written out here as PBS's sources do, and a test derives each one from its string.
 */
export const MAGIC = {
  uncompressedBlob: Buffer.from([66, 171, 56, 7, 190, 131, 112, 161]),
  compressedBlob: Buffer.from([49, 185, 88, 66, 111, 182, 163, 127]),
  encryptedBlob: Buffer.from([123, 103, 133, 190, 34, 45, 76, 240]),
  encryptedCompressedBlob: Buffer.from([230, 89, 27, 191, 11, 191, 216, 11]),
  fixedIndex: Buffer.from([47, 127, 65, 237, 145, 253, 15, 205]),
  dynamicIndex: Buffer.from([28, 145, 78, 165, 25, 186, 179, 205]),
} as const;

export type MagicName = keyof typeof MAGIC;

/** The strings the magics are derived from. */
export const MAGIC_SOURCE: Readonly<Record<MagicName, string>> = {
  uncompressedBlob: 'Proxmox Backup uncompressed blob v1.0',
  compressedBlob: 'Proxmox Backup zstd compressed blob v1.0',
  encryptedBlob: 'Proxmox Backup encrypted blob v1.0',
  encryptedCompressedBlob: 'Proxmox Backup zstd compressed encrypted blob v1.0',
  fixedIndex: 'Proxmox Backup fixed sized chunk index v1.0',
  dynamicIndex: 'Proxmox Backup dynamic sized chunk index v1.0',
};

export function magicName(bytes: Uint8Array): MagicName | undefined {
  if (bytes.length < 8) return undefined;
  for (const [name, magic] of Object.entries(MAGIC) as [MagicName, Buffer][]) {
    if (magic.equals(bytes.subarray(0, 8))) return name;
  }
  return undefined;
}

export function hex8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(8, bytes.length)).toString('hex');
}
