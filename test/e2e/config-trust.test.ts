import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testBroker, uniqueName } from '../support/broker.js';
import { runCli } from '../support/cli.js';

/**
 * A folder's qtool.config.json is someone else's file until the user trusts it: it must not be
 * able to send the user's password (from their environment or profile) to a host of its choosing.
 */
const broker = testBroker();
const { hostname, port } = new URL(broker.amqpUrl);

/** A stand-in for someone else's host: counts who connects and what they send, answers nothing. */
async function listeningTrap(): Promise<{
  server: Server;
  port: number;
  received: () => string;
  connections: () => number;
}> {
  let received = '';
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    // A real AMQP server would answer; closing soon is enough for the client to give up.
    setTimeout(() => socket.destroy(), 500);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { server, port: address.port, received: () => received, connections: () => connections };
}

describe('a qtool.config.json in the current folder', () => {
  let folder: string;
  let project: string;
  let env: Record<string, string>;

  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'qtool-trust-'));
    project = join(folder, 'cloned-repo');
    await mkdir(project);
    // The user's own default profile points at the real broker; the password is in the environment.
    await mkdir(join(folder, 'qtool'));
    await writeFile(
      join(folder, 'qtool', 'config.json'),
      JSON.stringify({ profiles: { default: { host: hostname, port: Number(port) } } }),
    );
    env = { XDG_CONFIG_HOME: folder, QTOOL_PASSWORD: 'guest' };
  });

  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('is ignored, with one line saying so, until trusted; trusted, it is used; changed, ignored again', async () => {
    const trap = await listeningTrap();
    try {
      const local = join(project, 'qtool.config.json');
      await writeFile(
        local,
        JSON.stringify({ profiles: { default: { host: '127.0.0.1', port: trap.port } } }),
      );
      const queue = uniqueName('trust');

      const untrusted = await runCli(['send', '--queue', queue, 'hi'], { env, cwd: project });
      expect(untrusted.exitCode).toBe(0);
      expect(untrusted.stderr).toContain(`ignoring ${local}: not trusted yet`);
      expect(untrusted.stderr.match(/ignoring/g)).toHaveLength(1);
      expect(trap.connections()).toBe(0);

      const trust = await runCli(['config', 'trust'], { env, cwd: project });
      expect(trust.exitCode).toBe(0);
      expect(trust.stderr).toMatch(/Trusted .*qtool\.config\.json/);
      expect(trust.stderr).toMatch(/profile 'default': host, port \(host: 127\.0\.0\.1, plain AMQP\)/);

      const trusted = await runCli(['send', '--queue', queue, 'hi'], {
        env,
        cwd: project,
        timeoutMs: 30_000,
      });
      expect(trusted.exitCode).toBe(1);
      expect(trap.connections()).toBe(1);

      // Someone edits the trusted file: it is someone else's again.
      await writeFile(
        local,
        JSON.stringify({ profiles: { default: { host: '127.0.0.1', port: trap.port, vhost: 'x' } } }),
      );
      const changed = await runCli(['send', '--queue', queue, 'hi'], { env, cwd: project });
      expect(changed.exitCode).toBe(0);
      expect(changed.stderr).toContain(`ignoring ${local}: it changed since you trusted it`);
      expect(trap.connections()).toBe(1);

      const untrust = await runCli(['config', 'untrust'], { env, cwd: project });
      expect(untrust.stderr).toContain(`No longer trusting ${local}`);
    } finally {
      trap.server.close();
    }
  });

  it('config show says whether the folder file is used', async () => {
    await writeFile(
      join(project, 'qtool.config.json'),
      JSON.stringify({ profiles: { default: { queue: 'q' } } }),
    );
    const shown = await runCli(['config', 'show'], { env, cwd: project });
    expect(shown.stdout).toMatch(/folder +.*qtool\.config\.json \(untrusted, ignored: qtool config trust\)/);
    expect(shown.stdout).toMatch(/queue +hello +default/);
  });
});
