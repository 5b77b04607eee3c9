#!/usr/bin/env node
// The bin only hands over to the bundled CLI (npm run build; cli-loader.js loads it with its code
// cache); everything else lives in src/. It is CommonJS (bin/package.json says so) because Node
// starts a CommonJS file with less work than an ES module, which is most of what `--version` and
// `--help` cost. Three things happen before the CLI loads, because they must be quick or early:
// - `--version` alone is answered from package.json, without loading the CLI at all;
// - `qtool [command...] --help` is printed from dist/help.json, the pages the build rendered with
//   the CLI itself, when commander would render it 80 columns wide (a pipe, or a terminal of that
//   width); any other terminal width, or any other argument, goes to commander as usual;
// - with --verbose, stack traces are mapped back to src/ through the bundle's source maps.
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const args = process.argv.slice(2);
const read = (path) => readFileSync(join(__dirname, path), 'utf8');
const page = helpPage();
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${JSON.parse(read('../package.json')).version}\n`);
} else if (page !== undefined) {
  process.stdout.write(page);
} else {
  const { cli } = require('./cli-loader.js').loadCli({ sourceMaps: args.includes('--verbose') });
  cli.main(process.argv).then((exitCode) => {
    process.exitCode = exitCode;
  });
}

/** The prerendered page for `qtool <words...> --help`, or undefined when commander must answer. */
function helpPage() {
  const last = args.at(-1);
  if (last !== '--help' && last !== '-h') return undefined;
  const path = args.slice(0, -1);
  if (path.some((word) => word.startsWith('-'))) return undefined;
  if (process.stdout.isTTY && process.stdout.columns !== 80) return undefined;
  const pages = JSON.parse(read('../dist/help.json'));
  return Object.hasOwn(pages, path.join(' ')) ? pages[path.join(' ')] : undefined;
}
