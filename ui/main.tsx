// The UI's entry: styles and the app rendered into #app, replacing the static shell that
// index.html paints before any script runs.

import { render } from 'preact';
import { App } from './app.js';
import './app.css';

render(<App />, document.getElementById('app')!);
