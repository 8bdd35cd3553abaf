// Reading a config: YAML or JSON text in, a typed and defaulted TandemConfig out, or every
// problem at once as `file:line: path: message`, the way `relayd -n` reports.

import { readFile } from 'node:fs/promises';
import { isMap, isSeq, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { validate, type ConfigIssue } from './kit.js';
import { configSchema, type TandemConfig } from './schema.js';
import { semanticIssues } from './semantic.js';

export interface LocatedIssue extends ConfigIssue {
  line?: number;
}

export type ParseResult = { ok: true; config: TandemConfig } | { ok: false; issues: LocatedIssue[] };

export const DEFAULT_CONFIG_PATH = '/cfg/tandem.yaml';

export function configPathFrom(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? env.TANDEM_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/** Parses and validates config text; YAML 1.2 is a superset of JSON, so one parser serves both. */
export function parseConfig(text: string): ParseResult {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => ({
        path: '(syntax)',
        message: e.message.split('\n')[0] ?? e.message,
        line: lineAt(text, e.pos[0]),
      })),
    };
  }
  const raw: unknown = doc.toJS() ?? {};
  const { value, issues } = validate(configSchema, raw);
  const all = value ? semanticIssues(value) : issues;
  if (all.length > 0 || !value) {
    return { ok: false, issues: all.map((issue) => ({ ...issue, line: lineOf(doc, text, issue.path) })) };
  }
  return { ok: true, config: value };
}

export async function loadConfigFile(path: string): Promise<ParseResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, issues: [{ path: '(file)', message: `cannot read ${path}: ${code}` }] };
  }
  return parseConfig(text);
}

export function formatIssue(file: string, issue: LocatedIssue): string {
  const where = issue.line ? `${file}:${issue.line}` : file;
  return `${where}: ${issue.path}: ${issue.message}`;
}

/** "carp[1].advskew" → ["carp", 1, "advskew"] */
export function splitPath(path: string): (string | number)[] {
  const parts: (string | number)[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (match[2] !== undefined) parts.push(Number(match[2]));
    else if (match[1] !== undefined) parts.push(match[1]);
  }
  return parts;
}

// The line of the deepest node that exists on the path: for a missing key, its parent mapping;
// for an unknown key, the key itself.
function lineOf(doc: Document, text: string, path: string): number | undefined {
  let node: unknown = doc.contents;
  let found: YamlNode | undefined = doc.contents ?? undefined;
  for (const part of splitPath(path)) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (item.key as { value?: unknown } | null)?.value === part);
      if (!pair) break;
      found = (pair.key as YamlNode) ?? found;
      node = pair.value;
      if (pair.value && typeof pair.value === 'object' && 'range' in pair.value) found = pair.value as YamlNode;
      else break;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part];
      if (!item || typeof item !== 'object' || !('range' in item)) break;
      found = item as YamlNode;
      node = item;
    } else {
      break;
    }
  }
  const offset = found?.range?.[0];
  return offset === undefined ? undefined : lineAt(text, offset);
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
