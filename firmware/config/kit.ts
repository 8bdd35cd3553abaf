// A small schema kit: one description of each config field gives its TypeScript type, its
// validation (with errors that name the path and the bad value), its default and the
// reference documentation. Unknown keys are errors, because a typo must never be ignored.

export interface ConfigIssue {
  path: string;
  message: string;
}

export interface FieldDoc {
  description: string;
  example?: unknown;
  /** True when a change takes effect only after the daemon restarts, not on SIGHUP. */
  requiresRestart?: boolean;
}

interface Checker<T> {
  check(value: unknown, path: string, issues: ConfigIssue[]): T | undefined;
}

export interface Schema<T> extends Checker<T> {
  readonly kind: string;
  readonly doc: FieldDoc;
  /** Whether a missing value is allowed (a default or `undefined` stands in). */
  readonly optional: boolean;
  readonly defaultValue: T | undefined;
  /** Short human form of the accepted values, for messages and the reference. */
  readonly summary: string;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}

abstract class Base<T> implements Schema<T> {
  abstract readonly kind: string;
  abstract readonly summary: string;
  doc: FieldDoc = { description: '' };
  optional = false;
  defaultValue: T | undefined = undefined;

  abstract checkPresent(value: unknown, path: string, issues: ConfigIssue[]): T | undefined;

  check(value: unknown, path: string, issues: ConfigIssue[]): T | undefined {
    if (value === undefined) {
      if (this.defaultValue !== undefined) return structuredClone(this.defaultValue);
      if (!this.optional) issues.push({ path, message: `is required (${this.summary})` });
      return undefined;
    }
    return this.checkPresent(value, path, issues);
  }

  describe(description: string, more: Omit<FieldDoc, 'description'> = {}): this {
    this.doc = { description, ...more };
    return this;
  }
}

/** Marks a schema as not required: a missing value becomes `defaultValue`, or stays absent. */
export function optional<T>(schema: Schema<T>): Schema<T | undefined>;
export function optional<T>(schema: Schema<T>, defaultValue: NoInfer<T>): Schema<T>;
export function optional<T>(schema: Schema<T>, defaultValue?: T): Schema<T | undefined> {
  const copy = Object.create(schema) as Base<T>;
  copy.optional = true;
  copy.defaultValue = defaultValue;
  return copy as Schema<T | undefined>;
}

class IntSchema extends Base<number> {
  readonly kind = 'integer';
  constructor(private readonly min: number, private readonly max: number) {
    super();
  }
  get summary(): string {
    return `integer ${this.min}-${this.max}`;
  }
  checkPresent(value: unknown, path: string, issues: ConfigIssue[]): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < this.min || value > this.max) {
      issues.push({ path, message: `must be ${this.min}-${this.max}, got ${show(value)}` });
      return undefined;
    }
    return value;
  }
}

class NumberSchema extends Base<number> {
  readonly kind = 'number';
  constructor(private readonly min: number, private readonly max: number) {
    super();
  }
  get summary(): string {
    return `number ${this.min}-${this.max}`;
  }
  checkPresent(value: unknown, path: string, issues: ConfigIssue[]): number | undefined {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < this.min || value > this.max) {
      issues.push({ path, message: `must be a number ${this.min}-${this.max}, got ${show(value)}` });
      return undefined;
    }
    return value;
  }
}

export type StringRule = (value: string) => string | undefined;

class StringSchema extends Base<string> {
  readonly kind = 'string';
  constructor(readonly summary: string, private readonly rules: StringRule[]) {
    super();
  }
  checkPresent(value: unknown, path: string, issues: ConfigIssue[]): string | undefined {
    if (typeof value !== 'string') {
      issues.push({ path, message: `must be ${this.summary}, got ${show(value)}` });
      return undefined;
    }
    for (const rule of this.rules) {
      const problem = rule(value);
      if (problem) {
        issues.push({ path, message: `${problem}, got ${show(value)}` });
        return undefined;
      }
    }
    return value;
  }
}

class BoolSchema extends Base<boolean> {
  readonly kind = 'boolean';
  readonly summary = 'true or false';
  checkPresent(value: unknown, path: string, issues: ConfigIssue[]): boolean | undefined {
    if (typeof value !== 'boolean') {
      issues.push({ path, message: `must be true or false, got ${show(value)}` });
      return undefined;
    }
    return value;
  }
}

class EnumSchema<V extends string> extends Base<V> {
  readonly kind = 'enum';
  constructor(readonly values: readonly V[]) {
    super();
  }
  get summary(): string {
    return `one of ${this.values.join(', ')}`;
  }
  checkPresent(value: unknown, path: string, issues: ConfigIssue[]): V | undefined {
    if (typeof value !== 'string' || !(this.values as readonly string[]).includes(value)) {
      issues.push({ path, message: `must be ${this.summary}, got ${show(value)}` });
      return undefined;
    }
    return value as V;
  }
}

class ListSchema<T> extends Base<T[]> {
  readonly kind = 'list';
  constructor(readonly item: Schema<T>, private readonly minItems: number) {
    super();
  }
  get summary(): string {
    return `list of ${this.item.summary}`;
  }
  checkPresent(value: unknown, path: string, issues: ConfigIssue[]): T[] | undefined {
    if (!Array.isArray(value)) {
      issues.push({ path, message: `must be a list, got ${show(value)}` });
      return undefined;
    }
    if (value.length < this.minItems) {
      issues.push({ path, message: `must have at least ${this.minItems} item(s), got ${value.length}` });
    }
    const out: T[] = [];
    value.forEach((item, index) => {
      const checked = this.item.check(item, joinPath(path, index), issues);
      if (checked !== undefined) out.push(checked);
    });
    return out;
  }
}

export type Shape = Record<string, Schema<unknown>>;
type RequiredKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? never : K }[keyof S];
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

export class ObjectSchema<S extends Shape> extends Base<ObjectOf<S>> {
  readonly kind = 'mapping';
  readonly summary = 'a mapping';
  constructor(readonly shape: S) {
    super();
  }
  override check(value: unknown, path: string, issues: ConfigIssue[]): ObjectOf<S> | undefined {
    // A missing section whose fields all have defaults is filled in from them.
    if (value === undefined && this.optional && this.defaultValue === undefined) return undefined;
    if (value === undefined && this.defaultValue === undefined && !this.optional) {
      const needed = Object.entries(this.shape).filter(([, s]) => !s.optional && s.defaultValue === undefined);
      if (needed.length > 0) {
        issues.push({ path: path || '(top level)', message: `is required (a mapping with ${needed.map(([k]) => k).join(', ')})` });
        return undefined;
      }
      return this.checkPresent({}, path, issues);
    }
    return super.check(value, path, issues);
  }
  checkPresent(value: unknown, path: string, issues: ConfigIssue[]): ObjectOf<S> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ path: path || '(top level)', message: `must be a mapping, got ${show(value)}` });
      return undefined;
    }
    const input = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(input)) {
      if (!(key in this.shape)) {
        const known = Object.keys(this.shape).join(', ');
        issues.push({ path: joinPath(path, key), message: `unknown key (expected one of: ${known})` });
      }
    }
    for (const [key, schema] of Object.entries(this.shape)) {
      const checked = schema.check(input[key], joinPath(path, key), issues);
      if (checked !== undefined) out[key] = checked;
    }
    return out as ObjectOf<S>;
  }
}

/** One member per tag: the discriminator holds the tag, then the common keys and the tag's own keys. */
export type VariantOf<D extends string, C extends Shape, V extends Record<string, Shape>> = {
  [K in keyof V & string]: { [P in D]: K } & ObjectOf<C> & ObjectOf<V[K]>;
}[keyof V & string];

/**
 * A tagged union of mappings (`{ method: snmp, seconds: 5, outlet: 3 }`): the discriminator key
 * picks which keys are allowed beside the common ones, so a key of another tag is an error
 * that says which tag it was checked against.
 */
export class VariantSchema<D extends string, C extends Shape, V extends Record<string, Shape>> extends Base<VariantOf<D, C, V>> {
  readonly kind = 'variant';
  /** When set, the reference lists this variant's keys once, under that path, and points there. */
  referenceAs: string | undefined = undefined;
  constructor(
    readonly discriminator: D,
    readonly common: C,
    readonly variants: V,
  ) {
    super();
  }
  get tags(): string[] {
    return Object.keys(this.variants);
  }
  get summary(): string {
    return `a mapping with ${this.discriminator}: one of ${this.tags.join(', ')}`;
  }
  /** Lists the variant's keys in the reference under `path` instead of in place. */
  referencedAt(path: string): this {
    this.referenceAs = path;
    return this;
  }
  checkPresent(value: unknown, path: string, issues: ConfigIssue[]): VariantOf<D, C, V> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ path, message: `must be ${this.summary}, got ${show(value)}` });
      return undefined;
    }
    const input = value as Record<string, unknown>;
    const tag = input[this.discriminator];
    const tagPath = joinPath(path, this.discriminator);
    if (tag === undefined) {
      issues.push({ path: tagPath, message: `is required (one of ${this.tags.join(', ')})` });
      return undefined;
    }
    if (typeof tag !== 'string' || !Object.prototype.hasOwnProperty.call(this.variants, tag)) {
      issues.push({ path: tagPath, message: `must be one of ${this.tags.join(', ')}, got ${show(tag)}` });
      return undefined;
    }
    const own = this.variants[tag]!;
    for (const key of Object.keys(input)) {
      if (key === this.discriminator || key in this.common || key in own) continue;
      const known = [...Object.keys(this.common), ...Object.keys(own)].join(', ');
      issues.push({ path: joinPath(path, key), message: `unknown key for ${this.discriminator} ${tag} (expected one of: ${this.discriminator}, ${known})` });
    }
    const out: Record<string, unknown> = { [this.discriminator]: tag };
    for (const [key, schema] of [...Object.entries(this.common), ...Object.entries(own)]) {
      const checked = schema.check(input[key], joinPath(path, key), issues);
      if (checked !== undefined) out[key] = checked;
    }
    return out as VariantOf<D, C, V>;
  }
}

export const s = {
  int: (min: number, max: number) => new IntSchema(min, max),
  number: (min: number, max: number) => new NumberSchema(min, max),
  string: (summary = 'a string', ...rules: StringRule[]) => new StringSchema(summary, rules),
  bool: () => new BoolSchema(),
  enumOf: <V extends string>(...values: V[]) => new EnumSchema<V>(values),
  list: <T>(item: Schema<T>, minItems = 0) => new ListSchema<T>(item, minItems),
  object: <S extends Shape>(shape: S) => new ObjectSchema<S>(shape),
  variant: <D extends string, C extends Shape, V extends Record<string, Shape>>(discriminator: D, common: C, variants: V) =>
    new VariantSchema<D, C, V>(discriminator, common, variants),
};

/** Runs `schema` over raw parsed input and returns the typed, defaulted value plus every issue. */
export function validate<T>(schema: Schema<T>, input: unknown): { value: T | undefined; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const value = schema.check(input, '', issues);
  return { value: issues.length === 0 ? value : undefined, issues };
}

export interface ReferenceRow {
  path: string;
  accepts: string;
  defaultValue: string;
  description: string;
}

/** Flattens a schema into rows for the reference documentation (README, UI forms). */
export function referenceRows(schema: Schema<unknown>, path = ''): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const walk = (node: Schema<unknown>, at: string) => {
    if (node instanceof ObjectSchema) {
      if (at) rows.push(row(node, at));
      for (const [key, child] of Object.entries(node.shape as Shape)) walk(child, joinPath(at, key));
      return;
    }
    if (node instanceof VariantSchema) {
      walkVariant(node, at, rows);
      return;
    }
    if (node instanceof ListSchema && node.item instanceof ObjectSchema) {
      rows.push(row(node, at));
      walk(node.item, `${at}[]`);
      return;
    }
    rows.push(row(node, at));
  };
  walk(schema, path);
  return rows;
}

// A variant lists its tag, its common keys, then each tag's own keys marked with the tag; a
// variant referenced elsewhere (park beside wake) points there for the tags' own keys.
function walkVariant(node: VariantSchema<string, Shape, Record<string, Shape>>, at: string, rows: ReferenceRow[]): void {
  const own = row(node, at);
  const pointer = node.referenceAs === undefined ? '' : ` Each ${node.discriminator}'s own keys as under \`${node.referenceAs}\`.`;
  rows.push({ ...own, description: `${own.description}${pointer}`.trim() });
  rows.push({ path: joinPath(at, node.discriminator), accepts: `one of ${node.tags.join(', ')}`, defaultValue: 'required', description: 'Which kind of mapping this is; it decides the other keys allowed.' });
  for (const [key, child] of Object.entries(node.common)) rows.push(...referenceRows(child, joinPath(at, key)));
  if (node.referenceAs !== undefined) return;
  for (const [tag, shape] of Object.entries(node.variants)) {
    for (const [key, child] of Object.entries(shape)) {
      for (const sub of referenceRows(child, joinPath(at, key))) {
        rows.push({ ...sub, description: `(${node.discriminator} ${tag}) ${sub.description}` });
      }
    }
  }
}

function row(node: Schema<unknown>, path: string): ReferenceRow {
  const accepts = node instanceof ListSchema && node.item instanceof ObjectSchema ? 'list of mappings' : node.summary;
  let defaultValue = '';
  if (node instanceof ObjectSchema || node instanceof VariantSchema) defaultValue = node.optional ? '' : 'required';
  else if (node.defaultValue !== undefined) defaultValue = `\`${JSON.stringify(node.defaultValue)}\``;
  else if (!node.optional) defaultValue = 'required';
  const restart = node.doc.requiresRestart ? ' Takes effect on restart.' : '';
  return { path, accepts, defaultValue, description: node.doc.description + restart };
}
