import { readFile } from 'node:fs/promises';
import type { TObject, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FerryError } from '../errors/index.js';
import { SAFE_ID_RE } from '../model/index.js';

/**
 * PBS's section-config format:
 *
 *   <type>: <id>
 *   	<key> <value>
 *   	<key>              (empty value)
 *
 * Sections are separated by blank lines; `#` starts a comment line; a key whose schema is an array may repeat.
 * Values are converted by the schema's JSON type (boolean: true/false/1/0/yes/no, integer) and validated with
 * TypeBox; unknown keys, repeated scalar keys and bad values fail with `file:line: key: reason`.
 */
export interface Section<T = Record<string, unknown>> {
  type: string;
  id: string;
  values: T;
  /** Where it was read from (for messages): file, the section's line, each key's (last) line. */
  origin?: { file: string; line: number; keys: Record<string, number> };
}

export type SectionSchemas = Readonly<Record<string, TObject>>;

function configError(file: string, line: number, detail: string): FerryError {
  return new FerryError('FERRY_ERR_CONFIG', `${file}:${line}: ${detail}`, { fields: { file, line } });
}

function propertyType(schema: TSchema | undefined): string | undefined {
  if (schema === undefined) return undefined;
  if (typeof schema['type'] === 'string') return schema['type'];
  const variants = (schema['anyOf'] ?? schema['oneOf']) as TSchema[] | undefined;
  return variants?.map((s) => s['type']).find((t): t is string => typeof t === 'string');
}

function convert(raw: string, type: string | undefined): unknown {
  if (type === 'boolean') {
    if (['true', '1', 'yes', 'on'].includes(raw)) return true;
    if (['false', '0', 'no', 'off'].includes(raw)) return false;
    return raw;
  }
  if (type === 'integer' || type === 'number') return /^-?\d+$/.test(raw) ? Number(raw) : raw;
  return raw;
}

export function parseSectionConfig(text: string, file: string, schemas: SectionSchemas): Section[] {
  const sections: Section[] = [];
  const ids = new Set<string>();
  let current: { section: Section; line: number; schema: TObject; keyLines: Map<string, number> } | undefined;
  const finish = () => {
    if (!current) return;
    const { section, schema, line, keyLines } = current;
    if (!Value.Check(schema, section.values)) {
      const first = Value.Errors(schema, section.values).First();
      const key = first?.path.replace(/^\//, '').split('/')[0] ?? '';
      const at = keyLines.get(key) ?? line;
      throw configError(
        file,
        at,
        `${section.type} ${section.id}: ${key ? `key ${key}: ` : ''}${first?.message ?? 'invalid'}`,
      );
    }
    section.origin = { file, line, keys: Object.fromEntries(keyLines) };
    sections.push(section);
    current = undefined;
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line.trim() === '') {
      finish();
      continue;
    }
    if (line.trimStart().startsWith('#')) continue;
    if (!/^\s/.test(line)) {
      finish();
      const m = /^([a-z][a-z0-9-]*):\s*(\S+)\s*$/.exec(line);
      if (!m)
        throw configError(file, lineNo, `expected "<type>: <id>", got ${JSON.stringify(line.slice(0, 80))}`);
      const [, type, id] = m as unknown as [string, string, string];
      const schema = schemas[type];
      if (!schema)
        throw configError(
          file,
          lineNo,
          `unknown section type ${JSON.stringify(type)} (known: ${Object.keys(schemas).join(', ')})`,
        );
      if (!SAFE_ID_RE.test(id) || id.length > 64)
        throw configError(file, lineNo, `bad section id ${JSON.stringify(id)}`);
      if (ids.has(`${type}:${id}`)) throw configError(file, lineNo, `${type} ${id} is defined twice`);
      ids.add(`${type}:${id}`);
      current = { section: { type, id, values: {} }, line: lineNo, schema, keyLines: new Map() };
      continue;
    }
    if (!current) throw configError(file, lineNo, 'a key line outside any section');
    const m = /^\s+([A-Za-z][A-Za-z0-9_-]*)(?:\s+(.*?))?\s*$/.exec(line);
    if (!m) throw configError(file, lineNo, `cannot parse ${JSON.stringify(line.trim().slice(0, 80))}`);
    const key = m[1] as string;
    const raw = m[2] ?? '';
    const propSchema = current.schema.properties[key];
    if (!propSchema) {
      throw configError(
        file,
        lineNo,
        `${current.section.type} ${current.section.id}: unknown key ${JSON.stringify(key)}`,
      );
    }
    const type = propertyType(propSchema);
    const values = current.section.values;
    if (type === 'array') {
      const itemType = propertyType((propSchema as TSchema & { items?: TSchema }).items);
      const list = (values[key] as unknown[] | undefined) ?? [];
      list.push(convert(raw, itemType));
      values[key] = list;
    } else {
      if (key in values)
        throw configError(
          file,
          lineNo,
          `${current.section.type} ${current.section.id}: key ${key} is repeated`,
        );
      values[key] = convert(raw, type);
    }
    current.keyLines.set(key, lineNo);
  }
  finish();
  return sections;
}

/**
 * Formats sections as PBS's text. A value must stay on its line: one with a line break would end it and start
 * another key (a comment "x\n\tremote evil" would add a remote), so it is refused, as is a malformed key or id.
 */
export function formatSectionConfig(sections: readonly Section[]): string {
  const blocks = sections.map((s) => {
    if (!/^[a-z][a-z0-9-]*$/.test(s.type) || !SAFE_ID_RE.test(s.id))
      throw new FerryError('FERRY_ERR_INVALID_VALUE', `bad section ${JSON.stringify(`${s.type}: ${s.id}`)}`);
    const lines = [`${s.type}: ${s.id}`];
    for (const [key, value] of Object.entries(s.values as Record<string, unknown>)) {
      if (value === undefined) continue;
      if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(key))
        throw new FerryError('FERRY_ERR_INVALID_VALUE', `${s.type} ${s.id}: bad key ${JSON.stringify(key)}`);
      const list = Array.isArray(value) ? value : [value];
      for (const v of list) {
        const text = String(v);
        if (/[\r\n]/.test(text))
          throw new FerryError(
            'FERRY_ERR_INVALID_VALUE',
            `${s.type} ${s.id}: key ${key}: ${JSON.stringify(text.slice(0, 80))} is more than one line`,
            { fields: { key } },
          );
        lines.push(text === '' ? `\t${key}` : `\t${key} ${text}`);
      }
    }
    return lines.join('\n');
  });
  return blocks.length === 0 ? '' : `${blocks.join('\n\n')}\n`;
}

/**
 * Reads the keys of one section with parsers of their own (a store name, a calendar event…): a value a parser
 * refuses is FERRY_ERR_CONFIG naming the file, line, section and key (`sync.cfg:4: sync nightly: key schedule: …`),
 * or, for values not read from a file, `<what> <id>: key <key>: …`.
 */
export function sectionFields(
  section: Pick<Section, 'type' | 'id' | 'origin'>,
  what: string,
): <T>(key: string, parse: () => T) => T {
  const { type, id, origin } = section;
  return (key, parse) => {
    try {
      return parse();
    } catch (err) {
      const where = origin
        ? `${origin.file}:${origin.keys[key] ?? origin.line}: ${type} ${id}: key ${key}`
        : `${what} ${id}: key ${key}`;
      throw new FerryError(
        'FERRY_ERR_CONFIG',
        `${where}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
}

/**
 * Checks one section's keys given as `--key value` options or in a request's JSON by the same reading as its file
 * (`parse`, the file's reader): the same conversions and the same messages, without a file and line to name
 * (FERRY_ERR_INVALID_VALUE).
 */
export function parseSectionValues<T>(
  type: string,
  id: string,
  values: Record<string, unknown>,
  parse: (text: string, file: string) => T[],
): T {
  const text = formatSectionConfig([{ type, id, values }]);
  let parsed: T[];
  try {
    parsed = parse(text, 'values'); // messages start `values:<line>: `, dropped below
  } catch (err) {
    if (err instanceof FerryError && err.code === 'FERRY_ERR_CONFIG')
      throw new FerryError('FERRY_ERR_INVALID_VALUE', err.message.replace(/^values:\d+: /, ''));
    throw err;
  }
  const [one] = parsed;
  if (one === undefined) throw new FerryError('FERRY_ERR_INTERNAL', `no ${type} section parsed`);
  return one;
}

/** Reads and parses a config file; a missing file is an empty config. */
export async function readSectionConfigFile(path: string, schemas: SectionSchemas): Promise<Section[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return parseSectionConfig(text, path, schemas);
}
