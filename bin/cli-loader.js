// Loads the bundled CLI (dist/cli/main.cjs, npm run build) with V8's code cache for it
// (dist/cli/main.cjs.v8-cache, made by the build from a training run). Node 20 has no compile
// cache of its own, and compiling qtool's code, commander's and amqplib's was most of what a
// one-shot command costs beyond Node's own start (see BENCHMARKS.md). V8 refuses a cache made by
// another Node version and compiles as usual then, so a stale or foreign cache costs only its read.
'use strict';
const { readFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const vm = require('node:vm');

const BUNDLE = join(__dirname, '..', 'dist', 'cli', 'main.cjs');
const CODE_CACHE = `${BUNDLE}.v8-cache`;

/**
 * The CLI's exports, and the script they were compiled as (null with source maps: Node's own
 * loader then maps stack traces back to src/, which a vm script would not get).
 */
function loadCli({ sourceMaps = false } = {}) {
  if (sourceMaps) {
    process.setSourceMapsEnabled(true);
    return { cli: require(BUNDLE), script: null };
  }
  let cachedData;
  try {
    cachedData = readFileSync(CODE_CACHE);
  } catch {
    // No cache (a build interrupted, say): compile as usual.
  }
  // Wrapped as Node wraps a CommonJS module, on the first line so that line numbers stay true.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(BUNDLE, 'utf8')}\n})`;
  const script = new vm.Script(source, {
    filename: BUNDLE,
    cachedData,
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  return { cli: module.exports, script };
}

module.exports = { loadCli, CODE_CACHE };
