// Development only: logs in to a running console (ui/dev/serve.ts or `tandem demo`), opens every
// page at phone (360x740) and desktop (1024x768) sizes in Debian's chromium, saves a screenshot of
// each, and prints what a reviewer checks by eye: console errors (CSP violations land there) and
// pages wider than the phone's screen.
// Run: node --import tsx ui/dev/shots.ts [url] [outdir] [user] [password]

import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const [url = 'http://127.0.0.1:18080/', out = '/tmp/ui-shots', user = 'demo', password = 'dev'] = process.argv.slice(2);
const SIZES = [
  { name: 'phone', width: 360, height: 740 },
  { name: 'desktop', width: 1024, height: 768 },
];

await mkdir(out, { recursive: true });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
try {
  for (const size of SIZES) {
    const context = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') console.log(`${size.name} console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => console.log(`${size.name} page error: ${e.message}`));
    await page.goto(url);
    await page.screenshot({ path: `${out}/login-${size.name}.png`, fullPage: true });
    await page.getByLabel('User').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: /Dashboard/ }).waitFor();
    await page.waitForTimeout(1500);
    // Every page the navigation lists, so a new page is screenshotted without a change here.
    const pages = await page.locator('nav[aria-label="Pages"] a').evaluateAll((links) => links.map((l) => (l.getAttribute('href') ?? '').replace(/^#\/?/, '')));
    for (const name of pages) {
      await page.goto(`${url}#/${name}`);
      await page.waitForTimeout(1200);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (wide > 0) console.log(`${size.name} ${name || 'dashboard'}: ${wide}px wider than the window`);
      await page.screenshot({ path: `${out}/${name || 'dashboard'}-${size.name}.png`, fullPage: true });
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(`screenshots in ${out}`);
