// The broker `npm run bench` measures on: the one of --url / AMQP_URL, else a throwaway node of the
// RabbitMQ series asked for (--broker 4.0 or 3.10), started by qtool's own startLocalNode and
// stopped by the bench (or, if the bench is killed, by the node's watchdog).
//
// 4.0 is what users run and the default when its root is ready. Debian 12 ships only 3.10, so 4.0
// runs from the Debian 13 root that .ci/rabbitmq-4.0-root builds for the tests (chroot, root only).
// The series matters to the bulk send: see BENCHMARKS.md, "RabbitMQ 3.10 and the mandatory flag".
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT_SCRIPT = join(repo, '.ci', 'rabbitmq-4.0-root');
const DEFAULT_ROOT = '/var/cache/qtool/rabbitmq-4.0-root';
export const SERIES = ['4.0', '3.10'];
export const CHROOT_NEEDS_ROOT = 'RabbitMQ 4.0 runs through chroot, which needs root';

/**
 * The series to start when none was asked for: 4.0 when its root is ready and this process may
 * chroot into it, else 3.10 with the reason (printed, so a reader knows what was measured).
 */
export function defaultSeries() {
  const root = process.env.QTOOL_RABBITMQ_40_ROOT ?? DEFAULT_ROOT;
  if (process.getuid?.() !== 0) return { series: '3.10', why: CHROOT_NEEDS_ROOT };
  if (!existsSync(join(root, '.qtool-ready'))) {
    return {
      series: '3.10',
      why: `no RabbitMQ 4.0 root in ${root} (build it once: .ci/rabbitmq-4.0-root, or pass --broker 4.0)`,
    };
  }
  return { series: '4.0', why: null };
}

/** qtool's startLocalNode, bundled from src/ (bench/ is not built with qtool, and Node 20 runs no TypeScript). */
async function loadStartLocalNode() {
  const dir = mkdtempSync(join(os.tmpdir(), 'qtool-bench-node-'));
  try {
    const outfile = join(dir, 'local-node.mjs');
    await build({
      entryPoints: [join(repo, 'src', 'broker', 'local-node.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'warning',
      // CommonJS dependencies call require() for Node's modules; an ES module has none.
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    return (await import(outfile)).startLocalNode;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts a throwaway node of `series` on 127.0.0.1: { url, series, stop }. */
export async function startThrowawayNode(series, log) {
  let rootDir;
  if (series === '4.0') {
    // Checks a ready root and mounts its /proc; builds a missing one (about 2 minutes, once).
    rootDir = execFileSync(ROOT_SCRIPT, [], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
  }
  const startLocalNode = await loadStartLocalNode();
  const node = await startLocalNode({
    watchdogOwnerPid: process.pid,
    onLog: log,
    ...(rootDir === undefined ? {} : { rootDir }),
  });
  return { url: node.url, series, stop: () => node.stop() };
}
