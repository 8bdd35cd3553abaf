// The `tandem` executable: esbuild bundles this file into dist/tandem.mjs.
import { main } from './cli.js';

main().catch((error: Error) => {
  process.stderr.write(`tandem: ${error.message}\n`);
  process.exitCode = 1;
});
