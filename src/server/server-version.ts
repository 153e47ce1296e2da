import { createRequire } from 'node:module';

/** The version in package.json (the same file from src/ and from a build's dist/). */
export const SERVER_VERSION: string = (
  createRequire(import.meta.url)('../../package.json') as { version: string }
).version;
