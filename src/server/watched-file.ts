import { stat } from 'node:fs/promises';

/**
 * A config file the server reads once and again only when it changes (inode, mtime or size), so `ferry token remove`
 * or `ferry acl set` in another process takes effect on the next request without a restart. Writers replace files
 * by rename, so a new version always has a new inode.
 */
export class WatchedFile<T> {
  private readonly path: string;
  private readonly load: () => Promise<T>;
  private current: { version: string; value: T } | undefined;
  private loading: { version: string; promise: Promise<T> } | undefined;

  constructor(path: string, load: () => Promise<T>) {
    this.path = path;
    this.load = load;
  }

  /** The file's version: changes whenever its content may have. */
  async version(): Promise<string> {
    try {
      const s = await stat(this.path, { bigint: true });
      return `${s.ino}:${s.mtimeNs}:${s.size}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw err;
    }
  }

  /** The parsed content and its version; reloads when the file changed. */
  async get(): Promise<{ version: string; value: T }> {
    const version = await this.version();
    if (this.current?.version === version) return this.current;
    let loading = this.loading;
    if (loading?.version !== version) {
      const promise = this.load();
      loading = { version, promise };
      this.loading = loading;
      promise.then(
        (value) => {
          if (this.loading?.promise === promise) this.loading = undefined;
          this.current = { version, value };
        },
        () => {
          if (this.loading?.promise === promise) this.loading = undefined;
        },
      );
    }
    return { version, value: await loading.promise };
  }
}
