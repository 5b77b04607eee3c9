// `npm run build`: bundles src/cli/main.ts and everything it loads, dependencies included, into
// dist/cli/. One file to read at start-up instead of a hundred to resolve; each command's own code
// stays in a chunk of its own, loaded only when that command runs (the dynamic imports in
// src/cli/commands/). dist/cli/ sits two levels below the package root, as src/cli/ does, so the
// paths the code builds from import.meta.url (package.json, bin/qtool.js) hold in both.
// Type checking is `npm run typecheck`'s job: esbuild only strips the types.
// Then dist/help.json: every help page as the new CLI prints it (src/cli/help-pages.ts).
import { rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: ['src/cli/main.ts'],
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Read only with --verbose (bin/qtool.js turns them on then), so stack traces name src/ lines.
  sourcemap: true,
  // amqplib and other CommonJS dependencies call require() for Node's modules; an ES module has none.
  banner: {
    js: "import { createRequire as qtoolCreateRequire } from 'node:module'; const require = qtoolCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

// Every help page, rendered by the same sources, for bin/qtool.js to print without loading the CLI.
// A bundle of its own, used here and removed: as an entry point above it would split main.js in two.
const renderer = new URL('../dist/cli/help-pages.mjs', import.meta.url); // two levels down, as main.js
await build({
  entryPoints: ['src/cli/help-pages.ts'],
  outfile: renderer.pathname,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  banner: {
    js: "import { createRequire as qtoolCreateRequire } from 'node:module'; const require = qtoolCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
const { renderHelpPages } = await import(renderer);
writeFileSync(new URL('../dist/help.json', import.meta.url), `${JSON.stringify(await renderHelpPages())}\n`);
rmSync(renderer);
