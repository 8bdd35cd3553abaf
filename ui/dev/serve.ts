// Development only (not shipped, not bundled): the demo's simulated cluster with a firewall
// policy added, served by the real API server and routes over the freshly built dist/ui/, with
// a fixed password, so the pages can be clicked and screenshotted before `tandem demo` serves them.
// Run: npm run build && node --import tsx ui/dev/serve.ts [port]   (prints the URLs; Ctrl-C stops)

import { systemClock } from '../../firmware/os/clock.js';
import { SimCluster, demoConfigs } from '../../firmware/demo/cluster.js';
import { startDemoWeb } from '../../firmware/demo/web.js';
import { validate } from '../../firmware/config/kit.js';
import { configSchema, type TandemConfig } from '../../firmware/config/schema.js';

const port = Number(process.argv[2] ?? 18080);
const firewall = {
  zones: { wan: { interfaces: ['eth0'], addresses: ['203.0.113.2/24'] }, lan: { interfaces: ['eth1'], addresses: ['198.51.100.2/25'] } },
  rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
  forwards: [{ on: 'wan', proto: 'tcp', to: { vip: 42, port: 80 }, rdrTo: { table: 'web', port: 8080 } }],
};
const configs = demoConfigs(undefined, undefined, undefined, true).map((config): TandemConfig => {
  const checked = validate(configSchema, { ...structuredClone(config), firewall } as unknown);
  if (checked.value) return checked.value;
  process.stderr.write(`dev firewall section refused: ${checked.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}\n`);
  return config;
});
const cluster = new SimCluster(systemClock, configs);
// The web side first: each console's bus forwards the events of daemons started after it.
const web = await startDemoWeb(cluster, { port, uiDir: 'dist/ui', password: 'dev' });
await cluster.startAll();
process.stdout.write(`${JSON.stringify({ user: web.user, password: web.password, urls: web.urls, ui: web.ui })}\n`);
const stop = async () => {
  await web.close();
  await cluster.stopAll();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
