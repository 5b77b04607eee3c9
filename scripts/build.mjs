// `npm run build`: bundles src/cli/main.ts and everything it loads, dependencies included, into
// dist/cli/main.cjs, then writes beside it what lets a command start without compiling or loading
// more than it runs:
// - dist/help.json: every help page as the new CLI prints it (src/cli/help-pages.ts), which
//   bin/qtool.js prints for `--help` without loading the CLI;
// - dist/cli/main.cjs.v8-cache: V8's code cache of the bundle after a training run
//   (scripts/train-code-cache.cjs), which bin/cli-loader.js hands to V8.
// One CommonJS file: modules that only a command reaches (its implementation, behind the dynamic
// imports in src/cli/commands/) are evaluated, and their Node built-ins required, only when it
// runs; an ES module bundle would load every built-in at start. dist/cli/ sits two levels below the
// package root, as src/cli/ does, so the paths the code builds from import.meta.url (package.json,
// bin/qtool.js) hold in both. Type checking is `npm run typecheck`'s job: esbuild only strips types.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const dist = (path) => fileURLToPath(new URL(`../dist/${path}`, import.meta.url));
rmSync(dist(''), { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
};
await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: dist('cli/main.cjs'),
  format: 'cjs',
  // Read only with --verbose (bin/qtool.js turns them on then), so stack traces name src/ lines.
  sourcemap: true,
  // CommonJS has no import.meta: the module's own URL, from its file name.
  define: { 'import.meta.url': 'qtoolModuleUrl' },
  banner: { js: "const qtoolModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// The help pages, rendered by the same sources in a bundle of their own, used here and removed.
const renderer = dist('cli/help-pages.mjs'); // two levels down, as main.cjs
await build({
  ...common,
  entryPoints: ['src/cli/help-pages.ts'],
  outfile: renderer,
  format: 'esm',
  // amqplib and other CommonJS dependencies call require() for Node's modules; an ES module has none.
  banner: {
    js: "import { createRequire as qtoolCreateRequire } from 'node:module'; const require = qtoolCreateRequire(import.meta.url);",
  },
});
const { renderHelpPages } = await import(renderer);
writeFileSync(dist('help.json'), `${JSON.stringify(await renderHelpPages())}\n`);
rmSync(renderer);

// In a process of its own: the training runs the CLI, whose error handlers are for a CLI process.
execFileSync(process.execPath, [fileURLToPath(new URL('train-code-cache.cjs', import.meta.url))], {
  stdio: 'inherit',
  timeout: 60_000,
});
