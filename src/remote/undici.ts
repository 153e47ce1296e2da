/**
 * The parts of undici Ferry uses, loaded from undici's own files instead of its index. The index loads all of
 * undici (fetch, WebSocket, EventSource, caches, mocks, proxies): +21 MiB RSS in a process against +12 MiB for
 * these, and two thirds of a worker bundle's source, which every worker thread keeps in its heap. undici has no
 * "exports" map, so its files are its public layout; the version is pinned and a moved file fails at startup and in
 * every test, not silently. Like the index does, this adds the request API (`request`, `stream`, …) to dispatchers.
 * Types still come from 'undici' (`import type`).
 */
import type * as Undici from 'undici';
import api from 'undici/lib/api/index.js';
import connect from 'undici/lib/core/connect.js';
import DispatcherClass from 'undici/lib/dispatcher/dispatcher.js';
import PoolClass from 'undici/lib/dispatcher/pool.js';

Object.assign(DispatcherClass.prototype, api);

export const Pool: typeof Undici.Pool = PoolClass;
export const buildConnector: typeof Undici.buildConnector = connect;
