// `tandem passwd` (issue 12 contract): `--hash` reads a password on stdin (no echo on a terminal,
// one line from a pipe) and prints its scrypt hash for `api.users[].passwordHash`; `passwd USER`
// sets USER's hash in the config file (comments kept, checked as `tandem check` checks, written
// atomically), or prints the YAML to add when there is no config file.

import { isMap, isScalar, isSeq, parseDocument, YAMLMap, YAMLSeq } from 'yaml';
import { parseConfig } from '../config/load.js';
import { writeFileAtomic } from '../os/files.js';
import { hashPassword } from './auth.js';

/** What a password is read from and prompts go to (process.stdin / process.stderr). */
export interface PasswordIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(on: boolean): unknown };
  prompt: NodeJS.WritableStream;
}

/** A password longer than this is refused (scrypt takes any length; a paste accident should not). */
const MAX_PASSWORD = 1024;

/**
 * On a terminal: prompts, reads with echo off (raw mode) and asks twice. From a pipe: the first
 * line, without its line ending. Empty passwords are refused.
 */
export async function readPassword(io: PasswordIo): Promise<string> {
  if (io.input.isTTY && io.input.setRawMode) {
    const first = await readHidden(io, 'password: ');
    const again = await readHidden(io, 'again: ');
    if (first !== again) throw new Error('the passwords differ');
    return checked(first);
  }
  let text = '';
  for await (const chunk of io.input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n') || text.length > MAX_PASSWORD + 2) break;
  }
  return checked(text.split(/\r?\n/)[0] ?? '');
}

function checked(password: string): string {
  if (password.length === 0) throw new Error('empty password refused');
  if (password.length > MAX_PASSWORD) throw new Error(`password longer than ${MAX_PASSWORD} characters refused`);
  return password;
}

function readHidden(io: PasswordIo, prompt: string): Promise<string> {
  const input = io.input;
  io.prompt.write(prompt);
  input.setRawMode!(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (error?: Error) => {
      input.removeListener('data', onData);
      input.setRawMode!(false);
      input.pause();
      io.prompt.write('\n');
      if (error) reject(error);
      else resolve(text);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('interrupted'));
        if (ch === '\u0004' && text === '') return done(new Error('no password given'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else if (ch >= ' ') text += ch;
      }
    };
    input.on('data', onData);
  });
}

export type SetUserResult = { ok: true; text: string; change: 'added' | 'replaced' } | { ok: false; reason: string };

/**
 * Sets `name`'s hash in a config's YAML text, keeping comments and layout: replaces the entry
 * of that name in `api.users`, or adds one (creating `api` and `users` when missing).
 */
export function setUserInConfig(text: string, name: string, passwordHash: string): SetUserResult {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, reason: `the config does not parse: ${doc.errors[0]!.message.split('\n')[0]}` };
  if (!isMap(doc.contents)) return { ok: false, reason: 'the config is not a mapping' };
  const api = child(doc.contents, 'api', () => new YAMLMap());
  if (!isMap(api)) return { ok: false, reason: 'api is not a mapping' };
  const users = child(api, 'users', () => new YAMLSeq());
  if (!isSeq(users)) return { ok: false, reason: 'api.users is not a list' };
  const entry = users.items.find((item) => isMap(item) && item.get('name') === name);
  let change: 'added' | 'replaced';
  if (isMap(entry)) {
    entry.set('passwordHash', passwordHash);
    change = 'replaced';
  } else {
    users.add(doc.createNode({ name, passwordHash }));
    change = 'added';
  }
  return { ok: true, text: doc.toString(), change };
}

/** `parent`'s value under `key`, made with `make` when absent or empty (`api:` alone). */
function child(parent: YAMLMap, key: string, make: () => YAMLMap | YAMLSeq): unknown {
  const node: unknown = parent.get(key, true);
  if (node !== undefined && node !== null && !(isScalar(node) && (node.value === null || node.value === undefined))) return node;
  const made = make();
  parent.set(key, made);
  return made;
}

export interface PasswdDeps {
  io: PasswordIo;
  out: (text: string) => void;
  readFile: (path: string) => Promise<string | undefined>;
  writeFile: (path: string, text: string) => Promise<void>;
}

export const realPasswdDeps = (): PasswdDeps => ({
  io: { input: process.stdin, prompt: process.stderr },
  out: (text) => process.stdout.write(text),
  readFile: async (path) => {
    const { readFile } = await import('node:fs/promises');
    return readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
  },
  writeFile: (path, text) => writeFileAtomic(path, text, 0o600),
});

/** `tandem passwd --hash`: prints the hash. */
export async function passwdHash(deps: PasswdDeps): Promise<number> {
  const password = await readPassword(deps.io);
  deps.out(`${await hashPassword(password)}\n`);
  return 0;
}

/** `tandem passwd USER`: writes USER's hash into the config file, or prints the YAML to add. */
export async function passwdUser(name: string, configPath: string, deps: PasswdDeps): Promise<number> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(name)) throw new Error(`user name must be 1-64 characters: letters, digits, _ . @ -, got ${JSON.stringify(name)}`);
  const password = await readPassword(deps.io);
  const passwordHash = await hashPassword(password);
  const text = await deps.readFile(configPath);
  if (text === undefined) {
    deps.out(`${configPath} does not exist; add this to the config:\napi:\n  users:\n    - name: ${name}\n      passwordHash: "${passwordHash}"\n`);
    return 0;
  }
  const set = setUserInConfig(text, name, passwordHash);
  if (!set.ok) throw new Error(`${configPath}: ${set.reason}`);
  // The same check as `tandem check`: a config this command broke is never written.
  const parsed = parseConfig(set.text);
  if (!parsed.ok) {
    const first = parsed.issues[0]!;
    throw new Error(`${configPath} would not be valid with this change (${first.path}: ${first.message}); nothing written`);
  }
  await deps.writeFile(configPath, set.text);
  deps.out(`${configPath}: user ${name} ${set.change}; reload the daemon (kill -HUP) to put it in force\n`);
  return 0;
}
