// Development only: serves the dev console (console.ts) until Ctrl-C, so the pages can be clicked
// and screenshotted (shots.ts) on the simulated cluster.
// Run: npm run build && node --import tsx ui/dev/serve.ts [port]   (prints the URLs and login)

import { DEV_PASSWORD, DEV_USER, startDevConsole } from './console.js';

const dev = await startDevConsole(Number(process.argv[2] ?? 18080));
process.stdout.write(`${JSON.stringify({ user: DEV_USER, password: DEV_PASSWORD, urls: dev.urls })}\n`);
const stop = async () => {
  await dev.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
