// Pure placement of config issues in the editor: each issue from `POST /api/config/check` (or
// `/api/firewall/check`) goes next to its line — the line the server gave, or else the line its
// path (`firewall.rules[2].to`) names in the YAML text, found by indentation. No YAML parser in
// the bundle: the server parsed it; the UI only needs to point at the right line.

export interface Issue {
  path: string;
  message: string;
  line?: number;
}

/** `firewall.rules[2].to` → `['firewall', 'rules', 2, 'to']`. */
export function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (match[2] !== undefined) out.push(Number(match[2]));
    else if (match[1] !== undefined) out.push(match[1]);
  }
  return out;
}

interface Line {
  /** 0-based index into the text's lines. */
  index: number;
  indent: number;
  /** The content after the indent, with a leading `- ` counted as indent for keys. */
  body: string;
  dash: boolean;
}

function significant(text: string): Line[] {
  const out: Line[] = [];
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.replace(/\s+$/, '');
    const content = trimmed.trimStart();
    if (content === '' || content.startsWith('#') || content === '---') return;
    const indent = trimmed.length - content.length;
    out.push({ index, indent, body: content, dash: content === '-' || content.startsWith('- ') });
  });
  return out;
}

function keyOf(body: string): string | undefined {
  const m = /^("([^"]*)"|'([^']*)'|[^:#{}[\],]+?)\s*:(\s|$)/.exec(body);
  if (!m) return undefined;
  return m[2] ?? m[3] ?? m[1];
}

/**
 * The 1-based line a dotted path points at in a block-style YAML text, or the deepest line on
 * its way there when the rest is in flow style (`[a, b]`) or missing (a required key absent:
 * the issue belongs at its parent). Undefined when not even the first key is found.
 */
export function lineOfPath(text: string, path: string): number | undefined {
  const lines = significant(text);
  const segments = splitPath(path);
  let from = 0;
  let to = lines.length;
  let parentIndent = -1;
  let found: number | undefined;
  for (const segment of segments) {
    // The children of the current node: lines deeper than the parent, up to the first that is not.
    let childIndent: number | undefined;
    let hit: number | undefined;
    let count = -1;
    for (let i = from; i < to; i++) {
      const line = lines[i]!;
      if (line.indent <= parentIndent && !(line.dash && line.indent === parentIndent && typeof segment === 'number')) break;
      childIndent ??= line.indent;
      if (line.indent !== childIndent) continue;
      if (typeof segment === 'number') {
        if (line.dash && ++count === segment) {
          hit = i;
          break;
        }
      } else if (keyOf(line.body) === segment) {
        hit = i;
        break;
      }
    }
    if (hit === undefined) break;
    const line = lines[hit]!;
    found = line.index + 1;
    // The node's children follow it; a `- key: v` item also holds `key` on its own line.
    let end = hit + 1;
    // A list may sit at its key's own indent (`rules:` then `- ...` below it): its items belong to it.
    const sameIndentList = typeof segment === 'string' && end < to && lines[end]!.dash && lines[end]!.indent === line.indent;
    while (end < to && (lines[end]!.indent > line.indent || (sameIndentList && lines[end]!.dash && lines[end]!.indent === line.indent))) end++;
    if (typeof segment === 'number') {
      const rest = line.body.replace(/^-\s*/, '');
      if (rest !== '' && keyOf(rest) !== undefined) {
        // Treat the item's first key as if on its own line at the dash's indent + 2.
        const itemIndent = line.indent + (line.body.length - rest.length);
        lines[hit] = { index: line.index, indent: itemIndent, body: rest, dash: false };
        from = hit;
        to = end;
        parentIndent = line.indent;
        continue;
      }
    }
    from = hit + 1;
    to = end;
    parentIndent = line.indent;
  }
  return found;
}

export interface PlacedIssues {
  /** 1-based line → the issues that belong there, in the server's order. */
  byLine: Map<number, Issue[]>;
  /** Issues no line could be found for (shown above the editor). */
  unplaced: Issue[];
}

/** Places each issue at its own line, else at the line its path names in `text`, else unplaced. */
export function placeIssues(issues: readonly Issue[], text: string): PlacedIssues {
  const byLine = new Map<number, Issue[]>();
  const unplaced: Issue[] = [];
  const total = text.split('\n').length;
  for (const issue of issues) {
    const line = issue.line !== undefined && issue.line >= 1 && issue.line <= total ? issue.line : lineOfPath(text, issue.path);
    if (line === undefined) {
      unplaced.push(issue);
      continue;
    }
    const list = byLine.get(line) ?? [];
    list.push(issue);
    byLine.set(line, list);
  }
  return { byLine, unplaced };
}

/** Normalises whatever error reply the API gave into issues (`{issues}` or `{error, path}`). */
export function issuesOf(reply: unknown): Issue[] {
  if (typeof reply !== 'object' || reply === null) return [];
  const r = reply as { issues?: unknown; error?: unknown; path?: unknown };
  if (Array.isArray(r.issues)) {
    return r.issues.flatMap((i): Issue[] => {
      if (typeof i !== 'object' || i === null) return [];
      const { path, message, line } = i as Record<string, unknown>;
      if (typeof message !== 'string') return [];
      return [{ path: typeof path === 'string' ? path : '', message, ...(typeof line === 'number' ? { line } : {}) }];
    });
  }
  if (typeof r.error === 'string') return [{ path: typeof r.path === 'string' ? r.path : '', message: r.error }];
  return [];
}

/**
 * A top-level section's value as its own YAML text (`firewall:`'s block, dedented), as
 * `POST /api/firewall/check` takes it; undefined when the section is absent or written inline
 * (`firewall: {...}`), where the whole config is the thing to edit.
 */
export function sectionOf(text: string, key: string): string | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => keyOf(line) === key && !/^\s/.test(line));
  if (start < 0) return undefined;
  const after = lines[start]!.slice(lines[start]!.indexOf(':') + 1).replace(/#.*$/, '').trim();
  if (after !== '') return undefined;
  let end = start + 1;
  // The block runs to the next line at column 0 that is not a comment, or a list item of a top-level key.
  while (end < lines.length && (lines[end]!.trim() === '' || /^[\s#]/.test(lines[end]!) || lines[end]!.startsWith('- '))) end++;
  const block = lines.slice(start + 1, end);
  while (block.length > 0 && block[block.length - 1]!.trim() === '') block.pop();
  const indent = Math.min(...block.filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#')).map((l) => l.length - l.trimStart().length));
  const cut = Number.isFinite(indent) ? indent : 0;
  return block.map((l) => (l.trim() === '' ? '' : l.slice(Math.min(cut, l.length - l.trimStart().length)))).join('\n') + '\n';
}

/** `firewall.rules[1].to` → `rules[1].to` for issues about a section edited on its own. */
export function withinSection(path: string, key: string): string {
  if (path === key) return '';
  return path.startsWith(`${key}.`) ? path.slice(key.length + 1) : path.startsWith(`${key}[`) ? path.slice(key.length) : path;
}
