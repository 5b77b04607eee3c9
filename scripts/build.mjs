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
  entryPoints: ['src/cli/main.ts', 'src/cli/help-pages.ts'],
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

// Every help page, rendered by the CLI just built, for bin/qtool.js to print without loading it.
const { renderHelpPages } = await import('../dist/cli/help-pages.js');
writeFileSync(new URL('../dist/help.json', import.meta.url), `${JSON.stringify(await renderHelpPages())}\n`);
