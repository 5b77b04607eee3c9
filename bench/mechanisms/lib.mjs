// Shared helpers for the reconnection-mechanism benchmark and probes (see ./README.md).
// Nothing here is part of qtool: bench/ is not built, shipped or tested.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';

/** The version the facts in docs/reconnection.md were read from. */
export const ACM_VERSION = '5.0.0';

const requireHere = createRequire(import.meta.url);

/** The amqplib qtool itself uses (the repository's node_modules). */
export function repoAmqplibVersion() {
  const main = requireHere.resolve('amqplib');
  return JSON.parse(readFileSync(join(dirname(main), 'package.json'), 'utf8')).version;
}

/**
 * amqp-connection-manager is not a dependency of qtool, so it lives in a directory outside the
 * repository: $QTOOL_BENCH_ACM_DIR, or <tmpdir>/qtool-bench-acm. It is installed there (with the
 * same amqplib version as qtool's, which it takes as a peer) when missing or at another version.
 */
export function loadConnectionManager() {
  const dir = process.env.QTOOL_BENCH_ACM_DIR ?? join(os.tmpdir(), 'qtool-bench-acm');
  const amqplibVersion = repoAmqplibVersion();
  const installedVersion = (name) => {
    const file = join(dir, 'node_modules', name, 'package.json');
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : null;
  };
  if (
    installedVersion('amqp-connection-manager') !== ACM_VERSION ||
    installedVersion('amqplib') !== amqplibVersion
  ) {
    console.error(
      `installing amqp-connection-manager@${ACM_VERSION} and amqplib@${amqplibVersion} into ${dir}`,
    );
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        '--no-audit',
        '--no-fund',
        `amqp-connection-manager@${ACM_VERSION}`,
        `amqplib@${amqplibVersion}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  return createRequire(join(dir, 'package.json'))('amqp-connection-manager');
}

/** Positional arguments and --name value / --flag options. */
export function parseArgs(argv) {
  const positional = [];
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith('--')) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) options[arg.slice(2)] = true;
      else {
        options[arg.slice(2)] = next;
        i++;
      }
    } else positional.push(arg);
  }
  return { positional, options };
}

/** The URL to print: never the password. */
export function maskUrl(url) {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** A copy of `url` with another host and port (to route it through a TcpProxy). */
export function withHostPort(url, host, port) {
  const parsed = new URL(url);
  parsed.hostname = host;
  parsed.port = String(port);
  return parsed.toString();
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves with the promise's value, or with `onTimeout` after `ms`: a probe must never hang on
 * a library that does.
 */
export function within(ms, promise, onTimeout) {
  let timer;
  return Promise.race([
    promise,
    new Promise((resolve) => {
      timer = setTimeout(() => resolve(onTimeout), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * A TCP proxy in front of the broker, so a probe can cut every connection (`drop`) or stop
 * forwarding bytes while keeping the sockets open (`freeze`: what a SIGSTOPped broker or a
 * black-holed network path looks like to the client) without touching the broker itself.
 */
export class TcpProxy {
  constructor(targetHost, targetPort) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.frozen = false;
    this.pairs = new Set();
    this.server = net.createServer((client) => this.#accept(client));
  }

  listen() {
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => {
        this.port = this.server.address().port;
        resolve(this);
      });
    });
  }

  #accept(client) {
    const pair = { client, upstream: null };
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', end).on('close', end);
    // A frozen node still accepts TCP connections (the kernel does) but never answers.
    if (this.frozen) return;
    const upstream = net.connect(this.targetPort, this.targetHost);
    pair.upstream = upstream;
    const forward = (from, to) =>
      from.on('data', (chunk) => {
        if (!this.frozen) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    // Once frozen, the client must not learn that the broker gave up on it (it would after
    // missing the client's heartbeats): a frozen peer sends nothing, not even a reset.
    const upstreamEnded = () => {
      if (!this.frozen) end();
    };
    upstream.on('error', upstreamEnded).on('close', upstreamEnded);
  }

  /** Cuts every open connection (the client sees a reset, as in a broker crash). */
  drop() {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    this.pairs.clear();
  }

  /** Keeps sockets open but forwards nothing more, in either direction, to new connections too. */
  freeze() {
    this.frozen = true;
  }

  close() {
    this.drop();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
