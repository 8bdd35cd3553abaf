// Development only (not shipped): the demo's simulated cluster with a firewall policy added,
// served by the real API server and routes over a built dist/ui/ with a fixed password. Used by
// serve.ts (by hand) and browser.test.ts (the UI's own browser checks).

import { systemClock } from '../../firmware/os/clock.js';
import { SimCluster, demoConfigs } from '../../firmware/demo/cluster.js';
import { startDemoWeb } from '../../firmware/demo/web.js';
import { validate } from '../../firmware/config/kit.js';
import { configSchema, type TandemConfig } from '../../firmware/config/schema.js';

export const DEV_USER = 'demo';
export const DEV_PASSWORD = 'dev';

const FIREWALL = {
  zones: { wan: { interfaces: ['eth0'], addresses: ['203.0.113.2/24'] }, lan: { interfaces: ['eth1'], addresses: ['198.51.100.2/25'] } },
  rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
  forwards: [{ on: 'wan', proto: 'tcp', to: { vip: 42, port: 80 }, rdrTo: { table: 'web', port: 8080 } }],
};

export interface DevConsole {
  urls: Record<string, string>;
  cluster: SimCluster;
  close(): Promise<void>;
}

/** Port 0 lets the kernel pick (each node's console on its own 127.0.0.N). */
export async function startDevConsole(port: number, uiDir = 'dist/ui'): Promise<DevConsole> {
  const configs = demoConfigs(undefined, undefined, undefined, true).map((config): TandemConfig => {
    const checked = validate(configSchema, { ...structuredClone(config), firewall: FIREWALL } as unknown);
    if (checked.value) return checked.value;
    throw new Error(`dev firewall section refused: ${checked.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  });
  const cluster = new SimCluster(systemClock, configs);
  // The web side first: each console's bus forwards only the events of daemons started after it
  // (demoBackend listens through cluster.onDaemon), so consoles started after the nodes get none.
  const web = await startDemoWeb(cluster, { port, uiDir, password: DEV_PASSWORD });
  if (!web.ui) {
    await web.close();
    throw new Error(`no built UI in ${uiDir}: npm run build first`);
  }
  await cluster.startAll();
  return {
    urls: web.urls,
    cluster,
    async close() {
      await web.close();
      await cluster.stopAll();
    },
  };
}
