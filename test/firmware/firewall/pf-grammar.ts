// A parser for pf.conf(5) of current OpenBSD (pf.conf.5 rev 1.609, its GRAMMAR section), so
// every rendered pf.conf is checked where pfctl cannot run. It reads the file the way pfctl's
// lexer does (comments, `\` continuation, quotes, `$macro` expansion by re-reading the value,
// words that may hold `:` `.` `-` but not `/`), parses each statement by the BNF, and then
// applies the checks of meaning the manual states in prose and pfctl enforces:
//   - "port only applies to tcp/udp" (ports need proto tcp or udp), icmp-type needs proto icmp,
//     icmp6-type proto icmp6, flags proto tcp;
//   - translation (nat-to, rdr-to, binat-to, af-to) is for pass and match rules, not block;
//   - keep state on a block rule makes no sense;
//   - bitmask pools are not permitted with a table or more than one address (TRANSLATION);
//   - a rule whose literal addresses leave no address family expands to no valid combination;
//   - macros must be defined before use and may not be reserved words; tables and labels fit
//     pf's name sizes; inline anchor names may not contain '/', and names starting with '_'
//     are reserved; braces balance; inside an inline anchor only rules, tables and includes.
// Where the GRAMMAR is narrower than the manual's own text and examples, the text wins and it
// is said here: `from`/`to` may be left out (`pass in proto tcp to port 25`), address ranges
// `a - b`, `<table>` and `weight` as redirection targets ("Tables ... can also be used for the
// redirect address of nat-to and rdr-to"; the EXAMPLES' `rdr-to { 10.1.2.155 weight 2, ... }`),
// `set syncookies` and `set hostid` (OPTIONS), and `timeout N` as a table option.

import { isIPv4, isIPv6 } from 'node:net';

export interface PfError {
  line: number;
  message: string;
}

export interface PfTranslation {
  kind: 'nat-to' | 'rdr-to' | 'binat-to' | 'af-to';
  targets: string[];
  port?: string;
  pool?: string;
}

export type PfStatement =
  | { kind: 'macro'; line: number; name: string; value: string }
  | { kind: 'option'; line: number; name: string; value: string }
  | { kind: 'table'; line: number; anchor: string; name: string; addresses: string[]; options: string[] }
  | {
      kind: 'rule';
      line: number;
      anchor: string;
      action: 'pass' | 'block' | 'match';
      direction?: 'in' | 'out';
      quick: boolean;
      log: boolean;
      interfaces: string[];
      af?: 'inet' | 'inet6';
      protos: string[];
      from: string[];
      to: string[];
      translation?: PfTranslation;
      options: string[];
    }
  | { kind: 'antispoof'; line: number; anchor: string; interfaces: string[]; quick: boolean }
  | { kind: 'anchor'; line: number; anchor: string; name?: string; inline: boolean }
  | { kind: 'load-anchor'; line: number; name: string; file: string }
  | { kind: 'include'; line: number; file: string }
  | { kind: 'queue'; line: number; name: string };

export type PfParseResult = { ok: true; statements: PfStatement[] } | { ok: false; errors: PfError[]; statements: PfStatement[] };

// ---------------------------------------------------------------------------------------------
// Lexer

type Token =
  | { kind: 'word'; text: string; quoted: boolean; line: number }
  | { kind: 'punct'; text: string; line: number }
  | { kind: 'nl'; line: number }
  | { kind: 'eof'; line: number };

class SyntaxError_ extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

const PUNCT_EXCLUDED = new Set([...'(){}<>!=/#,"']);
function allowedInWord(c: string): boolean {
  if (/[A-Za-z0-9]/.test(c)) return true;
  // pfctl: ispunct(c) && not one of the characters with a meaning of their own.
  return /[!-/:-@[-`{-~]/.test(c) && !PUNCT_EXCLUDED.has(c) && c !== '$';
}

class Lexer {
  private buf: string;
  private pos = 0;
  line = 1;
  private expansions = 0;
  private peeked: Token[] = [];

  constructor(
    text: string,
    private readonly macros: Map<string, string>,
  ) {
    this.buf = text;
  }

  peek(offset = 0): Token {
    while (this.peeked.length <= offset) this.peeked.push(this.read());
    return this.peeked[offset]!;
  }

  next(): Token {
    return this.peeked.length ? this.peeked.shift()! : this.read();
  }

  /** Drops the rest of the current statement (error recovery). */
  skipLine(): void {
    const end = this.peeked.findIndex((t) => t.kind === 'nl' || t.kind === 'eof');
    if (end >= 0) {
      this.peeked = this.peeked.slice(end);
      return;
    }
    this.peeked = [];
    for (;;) {
      let t: Token;
      try {
        t = this.read();
      } catch {
        continue;
      }
      if (t.kind === 'nl' || t.kind === 'eof') {
        this.peeked.push(t);
        return;
      }
    }
  }

  private read(): Token {
    for (;;) {
      if (this.pos >= this.buf.length) return { kind: 'eof', line: this.line };
      const c = this.buf[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\r') {
        this.pos++;
        continue;
      }
      if (c === '\\' && this.buf[this.pos + 1] === '\n') {
        this.pos += 2;
        this.line++;
        continue;
      }
      if (c === '#') {
        while (this.pos < this.buf.length && this.buf[this.pos] !== '\n') this.pos++;
        continue;
      }
      if (c === '\n') {
        this.pos++;
        return { kind: 'nl', line: this.line++ };
      }
      const line = this.line;
      if (c === '"') {
        let text = '';
        this.pos++;
        for (;;) {
          const d = this.buf[this.pos];
          if (d === undefined || d === '\n') throw new SyntaxError_(line, 'unterminated quoted string');
          this.pos++;
          if (d === '\\' && this.buf[this.pos] === '"') {
            text += '"';
            this.pos++;
            continue;
          }
          if (d === '"') break;
          text += d;
        }
        return { kind: 'word', text, quoted: true, line };
      }
      if (c === '$') {
        const match = /^[A-Za-z0-9_]+/.exec(this.buf.slice(this.pos + 1));
        if (!match) {
          this.pos++;
          throw new SyntaxError_(line, "a '$' must start a macro name");
        }
        const value = this.macros.get(match[0]);
        if (value === undefined) {
          this.pos += 1 + match[0].length;
          throw new SyntaxError_(line, `macro '${match[0]}' not defined`);
        }
        if (++this.expansions > 100_000) throw new SyntaxError_(line, 'macro expansion does not end');
        // pfctl pushes the value back into its input and reads on.
        this.buf = this.buf.slice(0, this.pos) + value + this.buf.slice(this.pos + 1 + match[0].length);
        continue;
      }
      const two = this.buf.slice(this.pos, this.pos + 2);
      if (['!=', '<=', '>=', '<>', '><'].includes(two)) {
        this.pos += 2;
        return { kind: 'punct', text: two, line };
      }
      if ('(){}<>!,/='.includes(c)) {
        this.pos++;
        return { kind: 'punct', text: c, line };
      }
      if (allowedInWord(c)) {
        let text = '';
        while (this.pos < this.buf.length && allowedInWord(this.buf[this.pos]!)) text += this.buf[this.pos++];
        return { kind: 'word', text, quoted: false, line };
      }
      this.pos++;
      throw new SyntaxError_(line, `unexpected character ${JSON.stringify(c)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary (pf.conf(5), icmp(4), icmp6(4))

const RESERVED = new Set(
  (
    'all allow-opts altq anchor antispoof any bandwidth binat-to bitmask block block-policy burst code const counters ' +
    'debug default delay divert-packet divert-reply divert-to drop dup-to file fingerprints flags floating flows flush ' +
    'for fragment from global group hostid icmp-type icmp6-type if-bound in include inet inet6 keep label least-states ' +
    'limit load log loginterface match max max-mss max-pkt-rate max-src-conn max-src-conn-rate max-src-nodes ' +
    'max-src-states min min-ttl modulate nat-to no no-df no-route no-sync on once optimization os out overload parent ' +
    'pass pflow port prio probability proto qlimit quantum queue quick random random-id rdomain rdr-to reassemble ' +
    'received-on reply-to return return-icmp return-icmp6 return-rst round-robin route route-to rtable rule ' +
    'ruleset-optimization scrub self set skip sloppy source-hash source-track state state-defaults state-policy ' +
    'static-port sticky-address synproxy syncookies table tag tagged timeout to tos ttl urpf-failed user weight'
  ).split(' '),
);

const ICMP_TYPES = new Set(
  'echorep unreach squench redir althost echoreq routeradv routersol timex paramprob timereq timerep inforeq inforep maskreq maskrep trace dataconv mobredir ipv6-where ipv6-here mobregreq mobregrep skip photuris'.split(' '),
);
const ICMP6_TYPES = new Set(
  'unreach toobig timex paramprob echoreq echorep groupqry listqry grouprep listenrep groupterm listendone routersol routeradv neighbrsol neighbradv redir routrrenum wrureq wrurep fqdnreq fqdnrep niqry nirep mtraceresp mtrace'.split(' '),
);
const TIMEOUTS = new Set(
  'tcp.first tcp.opening tcp.established tcp.closing tcp.finwait tcp.closed tcp.tsdiff udp.first udp.single udp.multiple icmp.first icmp.error other.first other.single other.multiple frag interval src.track adaptive.start adaptive.end'.split(' '),
);
const LIMITS = new Set('states frags src-nodes tables table-entries pktdelay_pkts anchors'.split(' '));
const TOS_NAMES = new Set(
  'lowdelay throughput reliability critical inetcontrol netcontrol ef af11 af12 af13 af21 af22 af23 af31 af32 af33 af41 af42 af43 cs0 cs1 cs2 cs3 cs4 cs5 cs6 cs7'.split(' '),
);
const POOLS = new Set(['bitmask', 'least-states', 'random', 'round-robin', 'source-hash']);
const PF_TABLE_NAME_SIZE = 32;
const PF_RULE_LABEL_SIZE = 64;
const TCP_UDP = new Set(['tcp', 'udp', '6', '17']);

type Af = 4 | 6 | undefined;
interface Host {
  text: string;
  af: Af;
  table: boolean;
}

// ---------------------------------------------------------------------------------------------
// Parser

class Parser {
  private readonly macros = new Map<string, string>();
  private readonly lexer: Lexer;
  readonly errors: PfError[] = [];
  readonly statements: PfStatement[] = [];
  private readonly anchors: { path: string; line: number }[] = [];
  private readonly tables = new Set<string>();

  constructor(text: string) {
    this.lexer = new Lexer(text, this.macros);
  }

  // Token helpers -----------------------------------------------------------------------------

  private peek(offset = 0): Token {
    return this.lexer.peek(offset);
  }
  private fail(message: string, token: Token = this.peek()): never {
    throw new SyntaxError_(token.line, message);
  }
  private describe(t: Token): string {
    if (t.kind === 'nl') return 'end of line';
    if (t.kind === 'eof') return 'end of file';
    return `"${t.text}"`;
  }
  /** An unquoted word equal to `word` (keywords are never quoted). */
  private isWord(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'word' && !t.quoted && t.text === word;
  }
  private accept(word: string): boolean {
    if (!this.isWord(word)) return false;
    this.lexer.next();
    return true;
  }
  private expect(word: string): void {
    if (!this.accept(word)) this.fail(`expected "${word}", got ${this.describe(this.peek())}`);
  }
  private isPunct(p: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'punct' && t.text === p;
  }
  private acceptPunct(p: string): boolean {
    if (!this.isPunct(p)) return false;
    this.lexer.next();
    return true;
  }
  private expectPunct(p: string): void {
    if (!this.acceptPunct(p)) this.fail(`expected "${p}", got ${this.describe(this.peek())}`);
  }
  private word(what: string): string {
    const t = this.peek();
    if (t.kind !== 'word') this.fail(`expected ${what}, got ${this.describe(t)}`);
    this.lexer.next();
    return t.text;
  }
  /** A string argument (quoted, or a plain word that is not a keyword). */
  private string(what: string): string {
    const t = this.peek();
    if (t.kind !== 'word' || (!t.quoted && RESERVED.has(t.text))) this.fail(`expected ${what}, got ${this.describe(t)}`);
    this.lexer.next();
    return t.text;
  }
  private number(what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const t = this.peek();
    if (t.kind !== 'word' || t.quoted || !/^\d+$/.test(t.text)) this.fail(`expected ${what} (a number), got ${this.describe(t)}`);
    const n = Number(t.text);
    if (n < min || n > max) this.fail(`${what} must be ${min}-${max}, got ${n}`);
    this.lexer.next();
    return n;
  }
  private skipNewlines(): void {
    while (this.peek().kind === 'nl') this.lexer.next();
  }
  private atEnd(): boolean {
    const k = this.peek().kind;
    return k === 'nl' || k === 'eof';
  }
  /** `item`, or `{ item [,] item ... }` with newlines allowed inside the braces (pfctl's optnl). */
  private listOf<T>(item: () => T, what: string): T[] {
    if (!this.acceptPunct('{')) return [item()];
    const out: T[] = [];
    this.skipNewlines();
    while (!this.isPunct('}')) {
      out.push(item());
      this.acceptPunct(',');
      this.skipNewlines();
      if (this.peek().kind === 'eof') this.fail(`unclosed "{" in ${what}`);
    }
    this.expectPunct('}');
    if (out.length === 0) this.fail(`empty list in ${what}`);
    return out;
  }
  private get anchorPath(): string {
    return this.anchors.at(-1)?.path ?? '';
  }

  // Statements --------------------------------------------------------------------------------

  parse(): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') break;
      if (t.kind === 'nl') {
        this.lexer.next();
        continue;
      }
      try {
        this.statement();
        if (!this.atEnd()) this.fail(`unexpected ${this.describe(this.peek())} at the end of the statement`);
      } catch (error) {
        if (!(error instanceof SyntaxError_)) throw error;
        this.errors.push({ line: error.line, message: error.message });
        this.lexer.skipLine();
      }
    }
    for (const open of this.anchors) this.errors.push({ line: open.line, message: `anchor "${open.path}" is not closed with "}"` });
  }

  private statement(): void {
    const t = this.peek();
    const line = t.line;
    const inAnchor = this.anchors.length > 0;
    if (t.kind === 'punct' && t.text === '}') {
      this.lexer.next();
      if (!inAnchor) this.fail('"}" closes no anchor', t);
      this.anchors.pop();
      return;
    }
    if (t.kind !== 'word' || t.quoted) this.fail(`a statement cannot start with ${this.describe(t)}`);
    if (this.isPunct('=', 1)) return this.macro(line, inAnchor);
    const onlyTopLevel = (what: string) => {
      if (inAnchor) this.fail(`${what} is not allowed inside an inline anchor (only rules, tables, anchors and includes)`);
    };
    switch (t.text) {
      case 'set':
        onlyTopLevel('an option');
        this.lexer.next();
        return this.option(line);
      case 'pass':
      case 'block':
      case 'match':
        this.lexer.next();
        return this.rule(line, t.text);
      case 'antispoof':
        onlyTopLevel('antispoof');
        this.lexer.next();
        return this.antispoof(line);
      case 'table':
        this.lexer.next();
        return this.table(line);
      case 'queue':
        onlyTopLevel('a queue');
        this.lexer.next();
        return this.queue(line);
      case 'anchor':
        this.lexer.next();
        return this.anchor(line);
      case 'load':
        onlyTopLevel('load anchor');
        this.lexer.next();
        this.expect('anchor');
        {
          const name = this.string('an anchor name');
          this.expect('from');
          const file = this.string('a file name');
          this.statements.push({ kind: 'load-anchor', line, name, file });
        }
        return;
      case 'include':
        this.lexer.next();
        this.statements.push({ kind: 'include', line, file: this.string('a file name') });
        return;
      default:
        this.fail(`unknown statement "${t.text}"`);
    }
  }

  private macro(line: number, inAnchor: boolean): void {
    if (inAnchor) this.fail('a macro cannot be defined inside an inline anchor');
    const name = this.word('a macro name');
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) this.fail(`macro name "${name}" must start with a letter and hold letters, digits and underscores`);
    if (RESERVED.has(name)) this.fail(`macro name "${name}" is a reserved word`);
    this.expectPunct('=');
    const parts: string[] = [];
    while (!this.atEnd()) {
      const t = this.peek();
      if (t.kind !== 'word') this.fail(`a macro value is made of strings; quote ${this.describe(t)}`);
      parts.push(t.text);
      this.lexer.next();
    }
    if (parts.length === 0) this.fail(`macro "${name}" has no value`);
    const value = parts.join(' ');
    this.macros.set(name, value);
    this.statements.push({ kind: 'macro', line, name, value });
  }

  private option(line: number): void {
    const name = this.word('an option name');
    const start = name;
    switch (name) {
      case 'timeout':
        this.listOf(() => this.timeout(), 'timeouts');
        break;
      case 'ruleset-optimization':
        this.oneOf(['none', 'basic', 'profile'], 'ruleset-optimization');
        break;
      case 'optimization':
        this.oneOf(['default', 'normal', 'high-latency', 'satellite', 'aggressive', 'conservative'], 'optimization');
        break;
      case 'limit':
        this.listOf(() => {
          const item = this.word('a limit');
          if (!LIMITS.has(item)) this.fail(`unknown limit "${item}"`);
          this.number(`limit ${item}`);
        }, 'limits');
        break;
      case 'loginterface':
        if (!this.accept('none')) this.interfaceName();
        break;
      case 'block-policy':
        this.oneOf(['drop', 'return'], 'block-policy');
        break;
      case 'state-policy':
        this.oneOf(['if-bound', 'floating'], 'state-policy');
        break;
      case 'state-defaults':
        this.stateOptions();
        break;
      case 'fingerprints':
        this.string('a file name');
        break;
      case 'skip':
        this.expect('on');
        this.ifspec();
        break;
      case 'debug':
        this.oneOf(['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'], 'debug');
        break;
      case 'reassemble':
        this.oneOf(['yes', 'no'], 'reassemble');
        this.accept('no-df');
        break;
      case 'syncookies':
        if (this.accept('adaptive')) {
          if (this.acceptPunct('(')) {
            this.expect('start');
            this.percent('start');
            this.acceptPunct(',');
            this.expect('end');
            this.percent('end');
            this.expectPunct(')');
          }
        } else this.oneOf(['never', 'always'], 'syncookies');
        break;
      case 'hostid':
        this.word('a host id');
        break;
      default:
        this.fail(`unknown option "set ${name}"`);
    }
    this.statements.push({ kind: 'option', line, name: start, value: '' });
  }

  private percent(what: string): void {
    const w = this.word(`${what} percentage`);
    if (!/^\d{1,3}%$/.test(w)) this.fail(`${what} must be a percentage, got "${w}"`);
  }

  private timeout(): void {
    const name = this.word('a timeout name');
    if (!TIMEOUTS.has(name)) this.fail(`unknown timeout "${name}"`);
    this.number(`timeout ${name}`);
  }

  private oneOf(words: string[], what: string): string {
    const t = this.peek();
    if (t.kind === 'word' && !t.quoted && words.includes(t.text)) {
      this.lexer.next();
      return t.text;
    }
    this.fail(`${what} must be one of ${words.join(', ')}, got ${this.describe(t)}`);
  }

  private interfaceName(): string {
    const t = this.peek();
    if (t.kind !== 'word' || t.quoted || !/^[A-Za-z][A-Za-z0-9_.-]*$/.test(t.text) || RESERVED.has(t.text)) {
      this.fail(`expected an interface name, got ${this.describe(t)}`);
    }
    this.lexer.next();
    return t.text;
  }

  /** ifspec = ( [ "!" ] interface ) | "{" interface-list "}" */
  private ifspec(): string[] {
    const one = () => {
      const not = this.acceptPunct('!');
      const name = this.interfaceName();
      return not ? `!${name}` : name;
    };
    return this.listOf(one, 'an interface list');
  }

  private rule(line: number, action: string): void {
    const r = {
      kind: 'rule' as const,
      line,
      anchor: this.anchorPath,
      action: action as 'pass' | 'block' | 'match',
      quick: false,
      log: false,
      interfaces: [] as string[],
      protos: [] as string[],
      from: [] as string[],
      to: [] as string[],
      options: [] as string[],
    } as Extract<PfStatement, { kind: 'rule' }>;
    if (action === 'block') this.returnSpec();
    if (this.isWord('in') || this.isWord('out')) r.direction = this.word('a direction') as 'in' | 'out';
    if (this.accept('log')) {
      r.log = true;
      this.logOptions();
    }
    if (this.accept('quick')) r.quick = true;
    if (this.accept('on')) {
      if (this.accept('rdomain')) this.number('rdomain', 0, 255);
      else r.interfaces = this.ifspec();
    }
    if (this.isWord('inet') || this.isWord('inet6')) r.af = this.word('an address family') as 'inet' | 'inet6';
    r.protos = this.protospec();
    const hosts = this.hosts();
    r.from = hosts.from.map((h) => h.text);
    r.to = hosts.to.map((h) => h.text);
    const opts = this.filterOptions(false);
    r.options = opts.names;
    if (opts.translation) r.translation = opts.translation;
    this.checkRule(r, hosts, opts);
    this.statements.push(r);
  }

  /** return = "drop" | "return" | "return-rst" [ "(" "ttl" number ")" ] | "return-icmp" ... */
  private returnSpec(): void {
    if (this.accept('drop') || this.accept('return')) return;
    if (this.accept('return-rst')) {
      if (this.acceptPunct('(')) {
        this.expect('ttl');
        this.number('ttl', 0, 255);
        this.expectPunct(')');
      }
      return;
    }
    if (this.accept('return-icmp')) {
      if (this.acceptPunct('(')) {
        this.word('an ICMP code');
        this.acceptPunct(',');
        if (!this.isPunct(')')) this.word('an ICMPv6 code');
        this.expectPunct(')');
      }
      return;
    }
    if (this.accept('return-icmp6')) {
      if (this.acceptPunct('(')) {
        this.word('an ICMPv6 code');
        this.expectPunct(')');
      }
    }
  }

  private logOptions(): void {
    if (!this.acceptPunct('(')) return;
    do {
      if (this.accept('to')) this.interfaceName();
      else this.oneOf(['all', 'matches', 'user', 'to'], 'a log option');
    } while (this.acceptPunct(','));
    this.expectPunct(')');
  }

  private protospec(): string[] {
    if (!this.accept('proto')) return [];
    return this.listOf(() => {
      const t = this.peek();
      if (t.kind !== 'word' || t.quoted) this.fail(`expected a protocol, got ${this.describe(t)}`);
      if (/^\d+$/.test(t.text)) {
        this.number('a protocol number', 0, 255);
        return t.text;
      }
      if (!/^[a-z][a-z0-9-]*$/.test(t.text) || RESERVED.has(t.text)) this.fail(`expected a protocol name, got "${t.text}"`);
      this.lexer.next();
      return t.text;
    }, 'a protocol list');
  }

  /** hosts = "all" | "from" ... [ port ] [ os ] "to" ... [ port ], either side may be left out. */
  private hosts(): { from: Host[]; to: Host[]; fromPorts: boolean; toPorts: boolean } {
    const out = { from: [] as Host[], to: [] as Host[], fromPorts: false, toPorts: false };
    if (this.accept('all')) return out;
    if (this.accept('from')) {
      out.from = this.hostTarget('from');
      if (this.isWord('port')) {
        this.port();
        out.fromPorts = true;
      }
      if (this.accept('os')) this.listOf(() => this.string('an operating system name'), 'an os list');
    }
    if (this.accept('to')) {
      out.to = this.hostTarget('to');
      if (this.isWord('port')) {
        this.port();
        out.toPorts = true;
      }
    }
    return out;
  }

  private hostTarget(side: 'from' | 'to'): Host[] {
    if (this.isWord('port')) return [];
    for (const special of ['any', 'no-route', 'self', ...(side === 'from' ? ['urpf-failed'] : [])]) {
      if (this.accept(special)) return special === 'any' ? [] : [{ text: special, af: undefined, table: false }];
    }
    if (this.accept('route')) return [{ text: `route ${this.string('a route label')}`, af: undefined, table: false }];
    return this.listOf(() => this.host(true), 'a host list');
  }

  /** host = [ "!" ] ( address [ "/" mask-bits ] [ "weight" number ] | "<" string ">" ) */
  private host(allowNot: boolean): Host {
    const not = allowNot && this.acceptPunct('!');
    if (this.acceptPunct('<')) {
      const name = this.tableName();
      this.expectPunct('>');
      return { text: `${not ? '!' : ''}<${name}>`, af: undefined, table: true };
    }
    const a = this.address();
    let text = a.text;
    let af = a.af;
    if (this.acceptPunct('/')) {
      const bits = this.number('mask bits', 0, af === 6 ? 128 : 32);
      text += `/${bits}`;
    } else if (a.partial) {
      this.fail(`"${a.text}" is not a complete IPv4 address`);
    }
    if (this.isWord('-') && a.af !== undefined) {
      this.lexer.next();
      const end = this.address();
      if (end.af !== a.af) this.fail(`address range ${a.text} - ${end.text} mixes address families`);
      text += ` - ${end.text}`;
    }
    if (this.accept('weight')) this.number('weight', 1, 65535);
    if (not) text = `!${text}`;
    return { text, af, table: false };
  }

  private tableName(): string {
    const name = this.word('a table name');
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$/.test(name)) this.fail(`bad table name "${name}"`);
    if (name.length >= PF_TABLE_NAME_SIZE) this.fail(`table name "${name}" is longer than ${PF_TABLE_NAME_SIZE - 1} characters`);
    return name;
  }

  /** address = interface | "(" interface ")" | hostname | ipv4-dotted-quad | ipv6-coloned-hex */
  private address(): { text: string; af: Af; partial: boolean } {
    if (this.acceptPunct('(')) {
      const t = this.peek();
      const name = this.word('an interface name');
      if (!/^[A-Za-z][A-Za-z0-9_.-]*(:(network|broadcast|peer|0))*$/.test(name) || RESERVED.has(name)) {
        this.fail(`expected an interface name in parentheses, got ${this.describe(t)}`);
      }
      this.expectPunct(')');
      return { text: `(${name})`, af: undefined, partial: false };
    }
    const t = this.peek();
    if (t.kind !== 'word' || t.quoted) this.fail(`expected an address, got ${this.describe(t)}`);
    const w = t.text;
    if (isIPv6(w)) {
      this.lexer.next();
      return { text: w, af: 6, partial: false };
    }
    if (/^\d+(\.\d+){0,3}$/.test(w)) {
      const octets = w.split('.');
      if (octets.some((o) => Number(o) > 255)) this.fail(`"${w}" is not an IPv4 address`);
      this.lexer.next();
      return { text: w, af: 4, partial: !isIPv4(w) };
    }
    if (/^[A-Za-z][A-Za-z0-9_.-]*(:(network|broadcast|peer|0))*$/.test(w) && !RESERVED.has(w)) {
      this.lexer.next();
      return { text: w, af: undefined, partial: false };
    }
    this.fail(`expected an address, got ${this.describe(t)}`);
  }

  /** port = "port" ( unary-op | binary-op | "{" op-list "}" ) */
  private port(): void {
    this.expect('port');
    this.listOf(() => this.portOp(), 'a port list');
  }

  private portOp(): void {
    const t = this.peek();
    if (t.kind === 'punct' && ['=', '!=', '<', '<=', '>', '>='].includes(t.text)) {
      this.lexer.next();
      this.portValue();
      return;
    }
    const w = this.peek();
    if (w.kind === 'word' && !w.quoted && /^\d+:\d+$/.test(w.text)) {
      this.lexer.next();
      const [a, b] = w.text.split(':').map(Number);
      if (a! > 65535 || b! > 65535) this.fail(`port range ${w.text} is out of 0-65535`);
      return;
    }
    const first = this.portValue();
    const op = this.peek();
    if ((op.kind === 'punct' && (op.text === '<>' || op.text === '><')) || (op.kind === 'word' && !op.quoted && op.text === ':')) {
      if (first === undefined) this.fail('a port range needs numbers on both sides');
      this.lexer.next();
      this.number('a port', 0, 65535);
    }
  }

  /** A port number, or a service name; returns the number if it was one. */
  private portValue(): number | undefined {
    const t = this.peek();
    if (t.kind === 'word' && !t.quoted && /^\d+$/.test(t.text)) return this.number('a port', 0, 65535);
    if (t.kind === 'word' && !t.quoted && /^[a-z][a-z0-9-]*$/.test(t.text) && !RESERVED.has(t.text)) {
      this.lexer.next();
      return undefined;
    }
    this.fail(`expected a port number or service name, got ${this.describe(t)}`);
  }

  /** portspec = "port" ( number | name ) [ ":" ( "*" | number | name ) ] */
  private portspec(): string {
    this.expect('port');
    const w = this.word('a port');
    if (/^(\d+|[a-z][a-z0-9-]*)(:(\*|\d+|[a-z][a-z0-9-]*))?$/.test(w)) {
      for (const n of w.split(':')) if (/^\d+$/.test(n) && Number(n) > 65535) this.fail(`port ${n} is out of 0-65535`);
      return w;
    }
    this.fail(`expected a port or port range for the translation, got "${w}"`);
  }

  private filterOptions(anchor: boolean): {
    names: string[];
    translation?: PfTranslation;
    translationHosts?: Host[];
    icmp: boolean;
    icmp6: boolean;
    flags: boolean;
    keepState: boolean;
    route: boolean;
  } {
    const out: {
      names: string[];
      translation?: PfTranslation;
      translationHosts?: Host[];
      icmp: boolean;
      icmp6: boolean;
      flags: boolean;
      keepState: boolean;
      route: boolean;
    } = { names: [], icmp: false, icmp6: false, flags: false, keepState: false, route: false };
    const translate = (kind: PfTranslation['kind'], t: PfTranslation) => {
      if (out.translation) this.fail(`${kind} cannot follow ${out.translation.kind} in one rule`);
      out.translation = t;
    };
    while (!this.atEnd() && !(anchor && this.isPunct('{'))) {
      const t = this.peek();
      if (t.kind === 'punct' && t.text === ',') {
        this.lexer.next();
        continue;
      }
      if (t.kind === 'punct' && t.text === '!') {
        this.lexer.next();
        const w = this.oneOf(['tagged', 'received-on'], 'an option negated with "!"');
        if (w === 'tagged') this.string('a tag');
        else this.interfaceName();
        out.names.push(`!${w}`);
        continue;
      }
      if (t.kind !== 'word' || t.quoted) this.fail(`expected a filter option, got ${this.describe(t)}`);
      const name = t.text;
      this.lexer.next();
      out.names.push(name);
      switch (name) {
        case 'user':
        case 'group':
          this.listOf(() => this.portOp(), `a ${name} list`);
          break;
        case 'flags':
          out.flags = true;
          if (this.accept('any')) break;
          if (!this.isPunct('/')) this.flagSet();
          this.expectPunct('/');
          this.flagSet();
          break;
        case 'icmp-type':
        case 'icmp6-type': {
          const names = name === 'icmp-type' ? ICMP_TYPES : ICMP6_TYPES;
          if (name === 'icmp-type') out.icmp = true;
          else out.icmp6 = true;
          this.listOf(() => {
            const w = this.word('an ICMP type');
            if (!/^\d+$/.test(w) && !names.has(w)) this.fail(`unknown ${name === 'icmp-type' ? 'ICMP' : 'ICMPv6'} type "${w}"`);
            if (/^\d+$/.test(w) && Number(w) > 255) this.fail(`ICMP type ${w} is out of 0-255`);
            if (this.accept('code')) this.word('an ICMP code');
          }, 'an ICMP type list');
          break;
        }
        case 'tos':
          this.tos();
          break;
        case 'no':
        case 'keep':
        case 'modulate':
        case 'synproxy':
          this.expect('state');
          if (name !== 'no') {
            out.keepState = true;
            if (this.isPunct('(')) this.stateOptions();
          }
          break;
        case 'scrub':
          this.expectPunct('(');
          do {
            const opt = this.oneOf(['no-df', 'min-ttl', 'max-mss', 'reassemble', 'random-id'], 'a scrub option');
            if (opt === 'min-ttl') this.number('min-ttl', 0, 255);
            if (opt === 'max-mss') this.number('max-mss', 0, 65535);
            if (opt === 'reassemble') this.expect('tcp');
            this.acceptPunct(',');
          } while (!this.isPunct(')') && !this.atEnd());
          this.expectPunct(')');
          break;
        case 'fragment':
        case 'allow-opts':
        case 'once':
        case 'divert-reply':
          break;
        case 'divert-packet':
          this.expect('port');
          this.portValue();
          break;
        case 'divert-to':
          this.host(false);
          this.expect('port');
          this.portValue();
          break;
        case 'label':
        case 'tag':
        case 'tagged': {
          const s = this.string(`a ${name}`);
          if (s.length >= PF_RULE_LABEL_SIZE) this.fail(`${name} "${s}" is longer than ${PF_RULE_LABEL_SIZE - 1} characters`);
          break;
        }
        case 'max-pkt-rate':
          this.number('max-pkt-rate');
          this.expectPunct('/');
          this.number('seconds');
          break;
        case 'set': {
          const what = this.oneOf(['delay', 'prio', 'queue', 'tos'], 'set (in a rule)');
          if (what === 'delay') this.number('delay');
          if (what === 'prio') {
            if (this.acceptPunct('(')) {
              this.number('prio', 0, 7);
              this.acceptPunct(',');
              this.number('prio', 0, 7);
              this.expectPunct(')');
            } else this.number('prio', 0, 7);
          }
          if (what === 'queue') {
            if (this.acceptPunct('(')) {
              this.string('a queue');
              this.acceptPunct(',');
              this.string('a queue');
              this.expectPunct(')');
            } else this.string('a queue');
          }
          if (what === 'tos') this.tos();
          break;
        }
        case 'rtable':
          this.number('rtable', 0, 255);
          break;
        case 'probability': {
          const w = this.word('a probability');
          if (!/^\d+(\.\d+)?%$/.test(w) || Number(w.slice(0, -1)) > 100) this.fail(`probability must be 0-100%, got "${w}"`);
          break;
        }
        case 'state':
        case 'source':
          this.expect('limiter');
          this.string('a limiter name');
          if (this.acceptPunct('(')) {
            this.oneOf(['block', 'no-match'], 'a limiter option');
            this.expectPunct(')');
          }
          break;
        case 'prio':
          this.number('prio', 0, 7);
          break;
        case 'received-on':
          this.interfaceName();
          break;
        case 'af-to': {
          const af = this.oneOf(['inet', 'inet6'], 'af-to address family');
          this.expect('from');
          const targets = this.listOf(() => this.redirHost(), 'af-to addresses');
          if (this.accept('to')) this.listOf(() => this.redirHost(), 'af-to addresses');
          translate('af-to', { kind: 'af-to', targets: [af, ...targets.map((h) => h.text)] });
          break;
        }
        case 'binat-to':
        case 'rdr-to':
        case 'nat-to': {
          const targets = this.listOf(() => this.redirHost(), `${name} addresses`);
          const tr: PfTranslation = { kind: name, targets: targets.map((h) => h.text) };
          if (this.isWord('port')) tr.port = this.portspec();
          const pool = this.poolType();
          if (pool) tr.pool = pool;
          if (name === 'nat-to' && this.accept('static-port')) out.names.push('static-port');
          if (pool?.startsWith('bitmask') && (targets.length > 1 || targets.some((h) => h.table))) {
            this.fail('bitmask is not permitted as a pool type with more than one address or a table');
          }
          translate(name, tr);
          out.translationHosts = targets;
          break;
        }
        case 'route-to':
        case 'reply-to':
        case 'dup-to':
          out.route = true;
          this.listOf(() => this.redirHost(), `${name} addresses`);
          this.poolType();
          break;
        default:
          this.fail(`unknown filter option "${name}"`, t);
      }
    }
    return out;
  }

  /** redirhost = address [ "/" mask-bits ], and (per TABLES and EXAMPLES) "<table>" and "weight". */
  private redirHost(): Host {
    if (this.isPunct('!')) this.fail('a translation address cannot be negated');
    return this.host(false);
  }

  private poolType(): string | undefined {
    const t = this.peek();
    if (t.kind !== 'word' || t.quoted || !POOLS.has(t.text)) {
      if (this.accept('sticky-address')) this.fail('sticky-address needs a pool type before it');
      return undefined;
    }
    this.lexer.next();
    let pool = t.text;
    if (pool === 'source-hash') {
      const key = this.peek();
      if (key.kind === 'word' && (key.quoted || /^0x[0-9a-fA-F]+$/.test(key.text))) this.lexer.next();
    }
    if (this.accept('sticky-address')) pool += ' sticky-address';
    return pool;
  }

  private flagSet(): void {
    const w = this.word('TCP flags');
    if (!/^[FSRPAUEW]+$/.test(w)) this.fail(`TCP flags are letters of FSRPAUEW, got "${w}"`);
  }

  private tos(): void {
    const w = this.word('a TOS value');
    if (TOS_NAMES.has(w) || /^\d+$/.test(w) || /^0x[0-9a-fA-F]+$/.test(w)) return;
    this.fail(`bad TOS value "${w}"`);
  }

  /** state-opts = state-opt [ [ "," ] state-opts ], in parentheses for a rule. */
  private stateOptions(): void {
    const inParens = this.acceptPunct('(');
    do {
      const t = this.peek();
      const name = this.word('a state option');
      switch (name) {
        case 'max':
        case 'max-src-nodes':
        case 'max-src-states':
        case 'max-src-conn':
          this.number(name);
          break;
        case 'max-src-conn-rate':
          this.number(name);
          this.expectPunct('/');
          this.number('seconds');
          break;
        case 'no-sync':
        case 'sloppy':
        case 'pflow':
        case 'if-bound':
        case 'floating':
          break;
        case 'source-track':
          if (!this.accept('rule')) this.accept('global');
          break;
        case 'overload':
          this.expectPunct('<');
          this.tableName();
          this.expectPunct('>');
          if (this.accept('flush')) this.accept('global');
          break;
        default:
          if (TIMEOUTS.has(name)) this.number(name);
          else this.fail(`unknown state option "${name}"`, t);
      }
    } while (this.acceptPunct(',') || (inParens && !this.isPunct(')') && !this.atEnd()));
    if (inParens) this.expectPunct(')');
  }

  private antispoof(line: number): void {
    let quick = false;
    if (this.accept('log')) this.logOptions();
    if (this.accept('quick')) quick = true;
    this.expect('for');
    const interfaces = this.ifspec();
    if (this.isWord('inet') || this.isWord('inet6')) this.lexer.next();
    if (this.accept('label')) this.string('a label');
    this.statements.push({ kind: 'antispoof', line, anchor: this.anchorPath, interfaces, quick });
  }

  private table(line: number): void {
    this.expectPunct('<');
    const name = this.tableName();
    this.expectPunct('>');
    const key = `${this.anchorPath}/${name}`;
    if (this.tables.has(key)) this.fail(`table <${name}> is defined twice`);
    this.tables.add(key);
    const options: string[] = [];
    const addresses: string[] = [];
    while (!this.atEnd()) {
      if (this.acceptPunct('{')) {
        this.skipNewlines();
        while (!this.isPunct('}')) {
          const not = this.acceptPunct('!');
          let text: string;
          if (this.accept('self')) text = 'self';
          else {
            const a = this.address();
            text = a.text;
            if (this.acceptPunct('/')) text += `/${this.number('mask bits', 0, a.af === 6 ? 128 : 32)}`;
            else if (a.partial) this.fail(`"${a.text}" is not a complete IPv4 address`);
          }
          addresses.push(not ? `!${text}` : text);
          this.acceptPunct(',');
          this.skipNewlines();
          if (this.peek().kind === 'eof') this.fail(`unclosed "{" in table <${name}>`);
        }
        this.expectPunct('}');
        options.push('{}');
        continue;
      }
      const opt = this.oneOf(['persist', 'const', 'counters', 'timeout', 'file'], 'a table option');
      if (opt === 'timeout') {
        const paren = this.acceptPunct('(');
        this.number('timeout');
        if (paren) this.expectPunct(')');
      }
      if (opt === 'file') this.string('a file name');
      options.push(opt);
    }
    this.statements.push({ kind: 'table', line, anchor: this.anchorPath, name, addresses, options });
  }

  private queue(line: number): void {
    const name = this.string('a queue name');
    if (this.accept('on')) this.interfaceName();
    let any = false;
    while (!this.atEnd()) {
      any = true;
      const opt = this.oneOf(['bandwidth', 'min', 'max', 'parent', 'default', 'flows', 'quantum', 'qlimit'], 'a queue option');
      if (opt === 'bandwidth' || opt === 'min' || opt === 'max') {
        this.bandwidth();
        if (this.accept('burst')) {
          this.bandwidth();
          this.expect('for');
          const w = this.word('a burst time');
          if (!/^\d+ms$/.test(w)) {
            if (!/^\d+$/.test(w)) this.fail(`burst time must be a number of ms, got "${w}"`);
            this.expect('ms');
          }
        }
      }
      if (opt === 'parent') this.string('a parent queue');
      if (opt === 'flows' || opt === 'quantum' || opt === 'qlimit') this.number(opt);
    }
    if (!any) this.fail(`queue ${name} has no options`);
    this.statements.push({ kind: 'queue', line, name });
  }

  private bandwidth(): void {
    const w = this.word('a bandwidth');
    if (!/^\d+[KMG]?$/.test(w)) this.fail(`bandwidth must be a number with K, M or G, got "${w}"`);
  }

  /** anchor-rule = "anchor" [ string ] [ in | out ] [ "on" ifspec ] [ af ] [ protospec ] [ hosts ] [ filteropts ] [ "{" ] */
  private anchor(line: number): void {
    let name: string | undefined;
    const t = this.peek();
    if (t.kind === 'word' && (t.quoted || !RESERVED.has(t.text))) {
      name = t.text;
      this.lexer.next();
      if (name === '') this.fail('anchor name must not be empty', t);
      if (name.startsWith('_') || name.includes('/_')) this.fail("anchor names beginning with '_' are reserved for internal use", t);
    }
    if (this.isWord('in') || this.isWord('out')) this.lexer.next();
    if (this.accept('on')) this.ifspec();
    if (this.isWord('inet') || this.isWord('inet6')) this.lexer.next();
    const protos = this.protospec();
    const hosts = this.hosts();
    const opts = this.filterOptions(true);
    if (opts.translation) this.fail(`${opts.translation.kind} is not allowed on an anchor rule`);
    this.checkPorts(protos, hosts.fromPorts || hosts.toPorts);
    const inline = this.acceptPunct('{');
    if (inline) {
      if (name?.includes('/')) this.fail("anchor paths containing '/' cannot be used for inline anchors", t);
      if (this.peek().kind !== 'nl') this.fail('an inline anchor\'s "{" must end the line');
      const path = [this.anchorPath, name ?? `_${line}`].filter(Boolean).join('/');
      this.statements.push({ kind: 'anchor', line, anchor: this.anchorPath, ...(name ? { name } : {}), inline: true });
      this.anchors.push({ path, line });
      return;
    }
    if (!name) this.fail('an anchor without a "{ ... }" block needs a name');
    this.statements.push({ kind: 'anchor', line, anchor: this.anchorPath, name, inline: false });
  }

  // Checks of meaning -------------------------------------------------------------------------

  private checkPorts(protos: string[], ports: boolean): void {
    if (!ports) return;
    if (protos.length === 0) this.fail('port only applies to tcp/udp: the rule has no proto');
    const other = protos.find((p) => !TCP_UDP.has(p));
    if (other) this.fail(`port only applies to tcp/udp, not proto ${other}`);
  }

  private checkRule(
    r: Extract<PfStatement, { kind: 'rule' }>,
    hosts: { from: Host[]; to: Host[]; fromPorts: boolean; toPorts: boolean },
    opts: { icmp: boolean; icmp6: boolean; flags: boolean; keepState: boolean; translation?: PfTranslation; translationHosts?: Host[] },
  ): void {
    this.checkPorts(r.protos, hosts.fromPorts || hosts.toPorts);
    if (opts.icmp && (r.protos.length !== 1 || !['icmp', '1'].includes(r.protos[0]!))) this.fail('icmp-type only applies to proto icmp');
    if (opts.icmp6 && (r.protos.length !== 1 || !['icmp6', 'ipv6-icmp', '58'].includes(r.protos[0]!))) this.fail('icmp6-type only applies to proto icmp6');
    if (opts.icmp && r.af === 'inet6') this.fail('icmp-type is IPv4: it does not fit inet6');
    if (opts.icmp6 && r.af === 'inet') this.fail('icmp6-type is IPv6: it does not fit inet');
    if (opts.flags && r.protos.some((p) => !['tcp', '6'].includes(p))) this.fail('flags only apply to tcp');
    if (r.action === 'block' && opts.keepState) this.fail("keep state on block rules doesn't make sense");
    if (r.action === 'block' && opts.translation) this.fail(`${opts.translation.kind} is not allowed on a block rule`);
    // pfctl's expand_rule skips address combinations of different families; none left is an error.
    const ruleAf: Af = r.af === 'inet' ? 4 : r.af === 'inet6' ? 6 : undefined;
    const froms = hosts.from.length ? hosts.from : [{ af: undefined } as Host];
    const tos = hosts.to.length ? hosts.to : [{ af: undefined } as Host];
    const fits = (a: Af, b: Af) => a === undefined || b === undefined || a === b;
    const combos = froms.flatMap((f) => tos.filter((t) => fits(f.af, t.af) && fits(ruleAf, f.af) && fits(ruleAf, t.af)).map((t) => t.af ?? f.af ?? ruleAf));
    if (combos.length === 0) this.fail('rule expands to no valid combination: its addresses leave no address family');
    const targets = opts.translationHosts;
    if (opts.translation && targets && opts.translation.kind !== 'af-to') {
      const usable = combos.some((af) => targets.some((h) => fits(af, h.af)));
      if (!usable) this.fail(`${opts.translation.kind}: no translation address with a matching address family`);
    }
  }
}

/** Parses pf.conf text; every error carries its line. */
export function parsePf(text: string): PfParseResult {
  const parser = new Parser(text);
  parser.parse();
  if (parser.errors.length) return { ok: false, errors: parser.errors, statements: parser.statements };
  return { ok: true, statements: parser.statements };
}
