// The benches' shared command line: strict node:util parseArgs with `--help`, bounded integer
// options, and one way to fail (the message, then the usage, exit 2), so every bench answers
// bad flags the same way.

import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<T extends Options> = { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string };

export class BenchCommandLine {
  constructor(
    private readonly bench: string,
    private readonly usage: string,
  ) {}

  fail(message: string, code = 2): never {
    console.error(`${this.bench}: ${message}\n\n${this.usage}`);
    process.exit(code);
  }

  /** The parsed flags, or undefined once `--help` has printed the usage. */
  parse<T extends Options>(options: T, args: string[] = process.argv.slice(2)): Values<T> | undefined {
    let values: Values<T>;
    try {
      values = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }).values as Values<T>;
    } catch (error) {
      this.fail((error as Error).message);
    }
    if ((values as { help?: boolean }).help) {
      console.log(this.usage);
      return undefined;
    }
    return values;
  }

  /** `--name N` as an integer in lo..hi, or the fallback when absent. */
  integer(name: string, text: string | undefined, fallback: number, lo: number, hi: number): number {
    if (text === undefined) return fallback;
    if (!/^-?\d+$/.test(text) || Number(text) < lo || Number(text) > hi) {
      this.fail(`--${name} must be an integer ${lo}..${hi}, got ${JSON.stringify(text)}`);
    }
    return Number(text);
  }
}
