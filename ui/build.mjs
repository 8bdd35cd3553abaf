// Bundles the web UI (ui/main.tsx and its CSS) into dist/ui/ beside index.html, minified, with
// content-hashed names that index.html is rewritten to name, and prints each file's gzipped size
// against the issue's budget (60 KB for all JS and CSS); a build over budget fails. Called by
// scripts/build.mjs; dist/ui/ is what the API serves.
import { build } from 'esbuild';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';

export const UI_BUDGET_BYTES = 60 * 1024;

export async function buildUi({ outdir = 'dist/ui', quiet = false } = {}) {
  // No clean first: a console serving this directory (another build, a running test) keeps
  // finding the files its index.html names; the new index.html replaces the old by rename, and
  // only then are the old hashed files removed.
  await mkdir(outdir, { recursive: true });
  const { metafile } = await build({
    entryPoints: { app: 'ui/main.tsx' },
    outdir,
    // Content-hashed names (app-XXXXXXXX.js): the server caches those for a year, immutable, so a
    // warm load asks only for index.html (no-cache), which names the current ones.
    entryNames: '[name]-[hash]',
    metafile: true,
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    // The demo's and firmware's types are imported for their shapes only; nothing of the daemon may land here.
    platform: 'browser',
    legalComments: 'none',
    logLevel: 'warning',
  });
  const built = Object.keys(metafile.outputs).map((path) => path.slice(outdir.length + 1));
  const js = built.find((name) => name.endsWith('.js'));
  const css = built.find((name) => name.endsWith('.css'));
  if (!js || !css) throw new Error(`ui: esbuild wrote ${built.join(', ')}; expected a .js and a .css`);
  const html = (await readFile('ui/index.html', 'utf8')).replace('href="app.css"', `href="${css}"`).replace('src="app.js"', `src="${js}"`);
  if (!html.includes(js) || !html.includes(css)) throw new Error('ui: index.html no longer names app.js and app.css to replace');
  await writeFile(`${outdir}/index.html.tmp`, html);
  await rename(`${outdir}/index.html.tmp`, `${outdir}/index.html`);
  const keep = new Set([...built, 'index.html']);
  for (const name of await readdir(outdir)) {
    if (!keep.has(name)) await rm(`${outdir}/${name}`, { recursive: true, force: true });
  }
  const sizes = [];
  for (const name of (await readdir(outdir)).sort()) {
    const bytes = await readFile(`${outdir}/${name}`);
    sizes.push({ name, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length });
  }
  const counted = sizes.filter((s) => /\.(js|css)$/.test(s.name)).reduce((n, s) => n + s.gzip, 0);
  if (!quiet) {
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    console.log(`ui: ${sizes.map((s) => `${s.name} ${kb(s.gzip)} gz`).join(', ')}; JS+CSS ${kb(counted)} of ${kb(UI_BUDGET_BYTES)} gzipped`);
  }
  if (counted > UI_BUDGET_BYTES) throw new Error(`ui: JS+CSS is ${counted} bytes gzipped, over the budget of ${UI_BUDGET_BYTES}`);
  return { sizes, counted };
}
