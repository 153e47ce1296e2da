// Types for the undici files src/remote/undici.ts loads directly (undici's types describe only its index).
declare module 'undici/lib/dispatcher/dispatcher.js' {
  const Dispatcher: typeof import('undici').Dispatcher;
  export = Dispatcher;
}
declare module 'undici/lib/dispatcher/pool.js' {
  const Pool: typeof import('undici').Pool;
  export = Pool;
}
declare module 'undici/lib/api/index.js' {
  const api: Record<string, unknown>;
  export = api;
}
declare module 'undici/lib/core/connect.js' {
  const buildConnector: typeof import('undici').buildConnector;
  export = buildConnector;
}
