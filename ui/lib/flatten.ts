// Pure flattening of a status object into labelled rows, for the sections whose shape is still
// growing (pair sync): every leaf as `path → text`, so a new field shows up without a UI change.

export interface Row {
  path: string;
  text: string;
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

/** Leaves in document order; lists of plain values on one line; empty arrays and objects read as `none`; depth-bounded against cycles. */
export function flatten(value: unknown, prefix = '', depth = 0, out: Row[] = []): Row[] {
  if (depth > 6 || value === null || typeof value !== 'object') {
    out.push({ path: prefix || '(value)', text: text(value) });
    return out;
  }
  // A list of plain values reads best as one line (`198.51.100.31, 198.51.100.32`).
  if (Array.isArray(value) && value.length > 0 && value.every((v) => v === null || typeof v !== 'object')) {
    out.push({ path: prefix || '(value)', text: value.map(text).join(', ') });
    return out;
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v] as const) : Object.entries(value).map(([k, v]) => [prefix ? `.${k}` : k, v] as const);
  if (entries.length === 0) {
    out.push({ path: prefix || '(value)', text: 'none' });
    return out;
  }
  for (const [key, child] of entries) flatten(child, `${prefix}${key}`, depth + 1, out);
  return out;
}

/** `lastSteps.at` → `Last steps at`: a camelCase path as a label. */
export function labelOf(path: string): string {
  const words = path
    .replace(/\[(\d+)\]/g, ' $1')
    .replace(/\./g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
