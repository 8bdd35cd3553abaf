// The e2e tier's harness: real Tandem daemons (the built bundle) with the web API on, in lab
// namespaces, and Debian's chromium driven by playwright-core from a third lab host, so the
// browser reaches the consoles over the lab's bridge (198.51.100.0/24) and nothing else.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { eventually, netnsUnavailable, type HostRef, type Lab } from '../netns/lab.js';
import { BUNDLE, DaemonProcess, bundleCommand, type VhostOptions, type Workdir } from '../netns/peers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const UI_DIR = fileURLToPath(new URL('../../dist/ui/', import.meta.url));

/** Why the e2e tier cannot run here (no root, no chromium, no built bundle or UI), or undefined. */
export function e2eUnavailable(): string | undefined {
  return netnsUnavailable() ?? browserUnavailable();
}

/** Why a browser test that needs no namespaces (the demo's) cannot run here, or undefined. */
export function browserUnavailable(): string | undefined {
  if (!existsSync(CHROMIUM)) return `no ${CHROMIUM} (apt-get install chromium)`;
  if (!existsSync(BUNDLE)) return `no ${BUNDLE}: run npm run build`;
  if (!existsSync(join(UI_DIR, 'index.html'))) return `no ${UI_DIR}index.html: run npm run build`;
  return undefined;
}

/** The scrypt hash for `password`, made by the shipped `tandem passwd --hash` (password on stdin). */
export async function passwordHash(password: string): Promise<string> {
  const child = spawn(process.execPath, [...bundleCommand(), 'passwd', '--hash'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdin.end(`${password}\n`);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`tandem passwd --hash exited ${code}: ${err}`);
  return out.trim();
}

export interface ConsoleUser {
  name: string;
  password: string;
}

export interface ApiNodeOptions {
  vhosts: VhostOptions[];
  users: { name: string; passwordHash: string }[];
  /** The config's `firewall` section, when the test drives the firewall page. */
  firewall?: Record<string, unknown>;
  /**
   * Where the console listens: default the host's lab address, port 443 (HTTPS, self-signed on
   * first start; 443 is a port the firewall's anti-lockout keeps open); a loopback `host:port`
   * is plain HTTP; `false` runs the daemon with no api section at all.
   */
  listen?: string | false;
}

/** `tandem run` in a lab host with CARP and the web API on its lab address. */
export class ApiNode extends DaemonProcess {
  private constructor(
    name: string,
    child: ChildProcess,
    socket: string,
    readonly url: string,
    readonly configPath: string,
  ) {
    super(name, child, socket);
  }

  static async start(lab: Lab, host: HostRef, work: Workdir, options: ApiNodeOptions): Promise<ApiNode> {
    const h = lab.host(host);
    const name = `fw-${h.name}`;
    const dir = work.file(name);
    await mkdir(dir, { recursive: true });
    const listen = options.listen ?? `${h.ipv4}:443`;
    const config = {
      node: { name, stateDir: join(dir, 'state') },
      control: { socket: join(dir, 'control.sock') },
      log: { level: 'debug' },
      carp: options.vhosts.map((v) => ({
        vhid: v.vhid ?? 42,
        interface: 'eth0',
        addresses: v.addresses ?? ['198.51.100.100/24'],
        password: v.password ?? 'labsecret',
        advbase: v.advbase ?? 1,
        advskew: v.advskew ?? 0,
        preempt: v.preempt ?? false,
      })),
      ...(listen !== false ? { api: { listen: [listen], users: options.users } } : {}),
      ...(options.firewall ? { firewall: options.firewall } : {}),
    };
    const socket = config.control.socket;
    const url = listen === false ? '' : `${/^(127\.|\[::1\])/.test(listen) ? 'http' : 'https'}://${listen.replace(/:443$/, '')}/`;
    // YAML, as on a router: the firewall page edits the `firewall` section as a block of its own.
    const path = join(dir, 'tandem.yaml');
    await writeFile(path, stringify(config));
    const child = lab.spawn(host, process.execPath, [...bundleCommand(), 'run', '--config', path]);
    const node = new ApiNode(name, child, socket, url, path);
    // The console listens a moment after the control socket answers (HTTPS makes its certificate first).
    await eventually(`${name} to answer on its control socket${listen === false ? '' : ` and listen on ${listen}`}`, async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${node.output}`);
      const status = await node.status();
      // With no users a lab address is refused, so there is no listener to wait for: the refusal is the state.
      const served = options.users.length > 0 || /^(127\.|\[::1\])/.test(listen || '');
      if (listen !== false && served && !status.api?.listening?.some((l) => l.listen === listen)) return undefined;
      if (listen !== false && !served && !status.api?.refused?.length) return undefined;
      return status.node;
    }, 15_000);
    return node;
  }

  /** The config file as the daemon has it now (an apply rewrites it, a revert puts it back). */
  configText(): Promise<string> {
    return readFile(this.configPath, 'utf8');
  }
}

/** Debian's chromium, headless, inside a lab host's namespace (a wrapper execs it through `ip netns exec`). */
export async function launchBrowser(lab: Lab, host: HostRef, work: Workdir): Promise<Browser> {
  const wrapper = work.file(`chromium-${lab.host(host).name}.sh`);
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${lab.host(host).netns} ${CHROMIUM} "$@"\n`);
  await chmod(wrapper, 0o755);
  return chromium.launch({ executablePath: wrapper, headless: true, args: ['--no-sandbox'] });
}

export const PHONE = { width: 360, height: 740 } as const;
export const DESKTOP = { width: 1024, height: 768 } as const;

/** A browser context for a console with a self-signed certificate, at a screen size. */
export function consoleContext(browser: Browser, viewport: { width: number; height: number } = DESKTOP): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true, viewport });
}

/** Every mutation the page sent to the API, with the CSRF header it carried. */
export interface SentMutation {
  method: string;
  path: string;
  csrf: string | undefined;
}

/** Records the page's non-GET requests under /api/ (what the browser actually sent). */
export function recordMutations(page: Page): SentMutation[] {
  const sent: SentMutation[] = [];
  page.on('request', (request: Request) => {
    const url = new URL(request.url());
    if (!url.pathname.startsWith('/api/') || request.method() === 'GET') return;
    sent.push({ method: request.method(), path: url.pathname, csrf: request.headers()['x-csrf-token'] });
  });
  return sent;
}

/** Logs in through the page's form; resolves with the csrfToken the server answered. */
export async function logIn(page: Page, url: string, user: ConsoleUser): Promise<string> {
  await page.goto(url);
  await page.getByLabel(/user/i).fill(user.name);
  await page.getByLabel(/password/i).fill(user.password);
  const [reply] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/api/login' && r.request().method() === 'POST'),
    page.getByRole('button', { name: /log ?in|sign ?in/i }).click(),
  ]);
  if (reply.status() !== 200) throw new Error(`login answered ${reply.status()}: ${await reply.text()}`);
  const { csrfToken } = (await reply.json()) as { csrfToken: string };
  return csrfToken;
}

/** The README's pictures (see readmeShot). */
export const README_SHOTS = fileURLToPath(new URL('../../ui/screenshots/', import.meta.url));

/**
 * Where a README picture goes: into ui/screenshots only with TANDEM_UPDATE_SCREENSHOTS=1 (so a
 * test run leaves the tree clean), else beside the other pictures in `tempDir`.
 */
export function readmeShot(name: string, tempDir: string): string {
  return process.env.TANDEM_UPDATE_SCREENSHOTS === '1' ? join(README_SHOTS, name) : join(tempDir, name);
}

/**
 * Runs `body`; if it throws, saves a screenshot of each page and adds its visible text to the
 * error, so a failure in the suite's log says what the browser showed.
 */
export async function showingPages<T>(pages: Page[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-e2e-failure-'));
    const notes: string[] = [];
    for (const [i, page] of pages.entries()) {
      const file = join(dir, `page-${i + 1}.png`);
      await page.screenshot({ path: file }).catch(() => undefined);
      const text = await page.locator('body').innerText({ timeout: 1000 }).catch(() => '(no text)');
      notes.push(`page ${i + 1} (${page.url()}), screenshot ${file}:\n${text.slice(0, 800)}`);
    }
    (error as Error).message += `\n--- what the browser showed ---\n${notes.join('\n')}`;
    throw error;
  }
}
