import { checkSafeId, invalid } from './safe-id.js';

/** A namespace path below a datastore's root: '' is the root, 'a/b' is depth 2. */
export type Namespace = string & { readonly __brand: 'Namespace' };

export const ROOT_NAMESPACE = '' as Namespace;
export const MAX_NAMESPACE_DEPTH = 7;
export const MAX_NAMESPACE_LENGTH = 256;
const MAX_COMPONENT_LENGTH = 64;

export function parseNamespace(value: unknown): Namespace {
  if (value === undefined || value === null || value === '') return ROOT_NAMESPACE;
  if (typeof value !== 'string') invalid('namespace', value, 'not a string');
  if (value.length > MAX_NAMESPACE_LENGTH)
    invalid('namespace', value, `longer than ${MAX_NAMESPACE_LENGTH} characters`);
  const parts = value.split('/');
  if (parts.length > MAX_NAMESPACE_DEPTH)
    invalid('namespace', value, `deeper than ${MAX_NAMESPACE_DEPTH} levels`);
  for (const part of parts) checkSafeId('namespace component', part, MAX_COMPONENT_LENGTH);
  return value as Namespace;
}

export function namespaceComponents(ns: Namespace): string[] {
  return ns === '' ? [] : ns.split('/');
}

export function namespaceDepth(ns: Namespace): number {
  return namespaceComponents(ns).length;
}

export function namespaceParent(ns: Namespace): Namespace | undefined {
  if (ns === '') return undefined;
  const i = ns.lastIndexOf('/');
  return (i < 0 ? '' : ns.slice(0, i)) as Namespace;
}

export function joinNamespace(parent: Namespace, child: string): Namespace {
  return parseNamespace(parent === '' ? child : `${parent}/${child}`);
}

/** True when `ns` is `anchor` or below it. */
export function isBelowNamespace(ns: Namespace, anchor: Namespace): boolean {
  return anchor === '' || ns === anchor || ns.startsWith(`${anchor}/`);
}

/** Re-roots `ns` (below `from`) under `to`: mapping a source namespace onto the target's anchor. */
export function mapNamespace(ns: Namespace, from: Namespace, to: Namespace): Namespace {
  if (!isBelowNamespace(ns, from)) invalid('namespace', ns, `not below ${from || 'the root'}`);
  const rest = from === '' ? ns : ns.slice(from.length + 1);
  if (rest === '') return to;
  return parseNamespace(to === '' ? rest : `${to}/${rest}`);
}

/** The relative directory of a namespace in a datastore: `ns/a/ns/b` ('' for the root). */
export function namespaceDir(ns: Namespace): string {
  return namespaceComponents(ns)
    .map((c) => `ns/${c}`)
    .join('/');
}

export function formatNamespace(ns: Namespace): string {
  return ns === '' ? '<root>' : ns;
}
