#!/usr/bin/env node
// The bin only hands over to the bundled entry (npm run build); everything else lives in src/.
// Two things happen before it loads, because they must be quick or early:
// - `--version` alone is answered from package.json, without loading the CLI at all;
// - with --verbose, stack traces are mapped back to src/ through the bundle's source maps.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${manifest.version}\n`);
} else {
  if (args.includes('--verbose')) process.setSourceMapsEnabled(true);
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv);
}
