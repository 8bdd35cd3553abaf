// The app's frame: login until there is a session, then the navigation, the page the hash names
// (`#/carp`, ...; plain links, so the back button and bookmarks work) and the live region.

import { useEffect } from 'preact/hooks';
import { logout, refreshSession, session } from './api.js';
import { connect, notice, now, prefetchStatus, status, stream } from './store.js';
import { Login } from './pages/login.js';
import { Dashboard } from './pages/dashboard.js';
import { Carp } from './pages/carp.js';
import { FirewallPage } from './pages/firewall.js';
import { BalancerPage } from './pages/balancer.js';
import { PowerPage } from './pages/power.js';
import { TelemetryPage } from './pages/telemetry.js';
import { EventLog } from './pages/events.js';
import { SyncPage } from './pages/sync.js';
import { UpgradePage } from './pages/upgrade.js';
import { signal } from '@preact/signals';
import { ApplyBanner } from './components/apply-banner.js';

export const PAGES = [
  { path: '', title: 'Dashboard', view: Dashboard },
  { path: 'carp', title: 'CARP', view: Carp },
  { path: 'firewall', title: 'Firewall', view: FirewallPage },
  { path: 'balancer', title: 'Balancer', view: BalancerPage },
  { path: 'power', title: 'Power', view: PowerPage },
  { path: 'telemetry', title: 'Telemetry', view: TelemetryPage },
  { path: 'sync', title: 'Sync', view: SyncPage },
  { path: 'upgrade', title: 'Upgrade', view: UpgradePage },
  { path: 'events', title: 'Events', view: EventLog },
] as const;

const route = signal(location.hash.replace(/^#\/?/, ''));
addEventListener('hashchange', () => {
  route.value = location.hash.replace(/^#\/?/, '');
  // A new page: its heading is where a screen reader (and the keyboard) should be.
  requestAnimationFrame(() => document.querySelector<HTMLElement>('main h1')?.focus());
});

function Header() {
  const s = status.value;
  const live = stream.value;
  return (
    <header class="top">
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          // Not a hash change: the hash is the page's route.
          e.preventDefault();
          document.querySelector<HTMLElement>('main h1')?.focus();
        }}
      >
        Skip to content
      </a>
      <span class="brand">Tandem</span>
      <span class="node">{s ? s.node : '…'}</span>
      <span class={`conn ${live}`} title="live updates">
        {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Offline'}
      </span>
      <span class="user">
        {session.value?.user}{' '}
        <button type="button" class="link" onClick={() => void logout()}>
          Log out
        </button>
      </span>
    </header>
  );
}

function Nav() {
  const current = route.value;
  return (
    <nav aria-label="Pages">
      <ul>
        {PAGES.map((p) => (
          <li key={p.path}>
            <a href={`#/${p.path}`} aria-current={current === p.path ? 'page' : undefined}>
              {p.title}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** How long a notice stays on screen (screen readers read it once, when it appears). */
const NOTICE_MS = 8000;

function Notice() {
  const shown = notice.value;
  const n = shown && now.value - shown.at < NOTICE_MS ? shown : undefined;
  return (
    <div class={`notice ${n?.tone ?? ''}`} role="status" aria-live="polite">
      {n?.text}
    </div>
  );
}

export function App() {
  const s = session.value;
  useEffect(() => {
    // The status alongside the session check, not after it: the dashboard needs both, and on a
    // reload with a live session this saves a round trip before the first table.
    void refreshSession();
    prefetchStatus();
  }, []);
  useEffect(() => {
    if (s) connect();
  }, [s?.csrfToken !== undefined]);

  if (s === undefined) {
    return (
      <main id="main" class="shell">
        <p>Loading…</p>
      </main>
    );
  }
  if (s === null) return <Login />;
  const page = PAGES.find((p) => p.path === route.value) ?? PAGES[0];
  const View = page.view;
  document.title = `${page.title} · ${status.value?.node ?? 'Tandem'}`;
  return (
    <>
      <Header />
      <Nav />
      <main id="main">
        <ApplyBanner />
        <View />
      </main>
      <Notice />
    </>
  );
}
