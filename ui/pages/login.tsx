// The login form: user and password to `POST /api/login`; the reply's CSRF token is kept in
// memory only (the session cookie is HttpOnly). Wrong passwords and rate limits say so.

import { useState } from 'preact/hooks';
import { login, messageOf } from '../api.js';

export function Login() {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login(user, password);
    } catch (err) {
      setError(messageOf(err));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="login">
      <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <h1>Tandem</h1>
        <p class="muted">Sign in to this router's console.</p>
        <label for="login-user">User</label>
        <input id="login-user" name="user" autocomplete="username" required value={user} onInput={(e) => setUser(e.currentTarget.value)} />
        <label for="login-password">Password</label>
        <input
          id="login-password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        {error && (
          <p id="login-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="muted small">No user yet? Run <code>tandem passwd --hash</code> on the router and add it under <code>api.users</code>.</p>
      </form>
    </main>
  );
}
