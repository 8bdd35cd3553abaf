// An in-memory NftPort for unit tests: it keeps our table as the scripts Tandem writes leave it
// (the whole-table replacement, the removal, and element updates of sets and maps, each script
// all or nothing) and fails what a test tells it to. The same contract suite runs against it
// and against LinuxNftPort in a namespace (test/firmware/firewall/nft-contract.ts).

import type { NftOutcome, NftPort } from './ports.js';
import { NFT_FAMILY, NFT_TABLE } from './render-nft.js';

const WHERE = `${NFT_FAMILY} ${NFT_TABLE}`;

export class FakeNft implements NftPort {
  /** The last whole ruleset loaded, or undefined when our table does not exist. */
  ruleset: string | undefined;
  /** Elements of each set and map in our table. */
  elements = new Map<string, string[]>();
  readonly calls: { op: 'check' | 'run' | 'list'; script?: string }[] = [];
  /** Return an error message to refuse a script (check and run alike). */
  refuse: (script: string) => string | undefined = () => undefined;
  /** Return an error message to fail `run` after a successful check. */
  failRun: (script: string) => string | undefined = () => undefined;

  async check(script: string): Promise<NftOutcome> {
    this.calls.push({ op: 'check', script });
    const refused = this.refuse(script);
    if (refused) return { ok: false, error: refused };
    const applied = this.apply(script);
    return 'error' in applied ? { ok: false, error: applied.error } : { ok: true };
  }

  async run(script: string): Promise<NftOutcome> {
    this.calls.push({ op: 'run', script });
    const refused = this.refuse(script) ?? this.failRun(script);
    if (refused) return { ok: false, error: refused };
    const applied = this.apply(script);
    if ('error' in applied) return { ok: false, error: applied.error };
    this.ruleset = applied.ruleset;
    this.elements = applied.elements;
    return { ok: true };
  }

  async listTable(): Promise<string | undefined> {
    this.calls.push({ op: 'list' });
    if (this.ruleset === undefined) return undefined;
    const sets = [...this.elements].map(([name, items]) => `\tset ${name} {\n\t\telements = { ${items.join(', ')} }\n\t}`);
    return `table ${WHERE} {\n${sets.join('\n')}\n}\n`;
  }

  /** What a script would leave, computed on copies: nothing changes unless all of it works. */
  private apply(script: string): { ruleset: string | undefined; elements: Map<string, string[]> } | { error: string } {
    let ruleset = this.ruleset;
    let elements = new Map([...this.elements].map(([k, v]) => [k, [...v]]));
    const definition = script.indexOf(`table ${WHERE} {`);
    if (script.includes(`delete table ${WHERE}`)) {
      ruleset = undefined;
      elements = new Map();
    }
    if (definition >= 0) {
      if (!/\n\}\s*$/.test(script)) return { error: 'syntax error, unexpected end of file' };
      ruleset = script;
      for (const match of script.matchAll(/\t(?:set|map) (\S+) \{([\s\S]*?)\n\t\}/g)) {
        const items = /elements = \{ ([^}]*) \}/.exec(match[2]!)?.[1];
        elements.set(match[1]!, items ? items.split(', ') : []);
      }
      return { ruleset, elements };
    }
    for (const line of script.split('\n')) {
      if (!line.trim() || line.startsWith('#') || line === `table ${WHERE}` || line === `delete table ${WHERE}`) continue;
      const flush = new RegExp(`^flush (?:set|map) ${WHERE} (\\S+)$`).exec(line);
      const element = new RegExp(`^(add|delete) element ${WHERE} (\\S+) \\{ (.*) \\}$`).exec(line);
      const name = flush?.[1] ?? element?.[2];
      if (name === undefined) return { error: `syntax error: ${line}` };
      const current = elements.get(name);
      if (!current || ruleset === undefined) return { error: `Error: No such file or directory; did you mean table ${WHERE}?\n${line}` };
      if (flush) {
        elements.set(name, []);
        continue;
      }
      const items = element![3]!.split(', ');
      if (element![1] === 'add') {
        for (const item of items) {
          const key = item.split(' : ')[0];
          if (current.some((c) => c.split(' : ')[0] === key) && item.includes(' : ')) return { error: `Error: Could not process rule: File exists\n${line}` };
          if (!current.includes(item)) current.push(item);
        }
      } else {
        for (const item of items) {
          const at = current.indexOf(item);
          if (at < 0) return { error: `Error: element does not exist\n${line}` };
          current.splice(at, 1);
        }
      }
    }
    return { ruleset, elements };
  }
}
