import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { testBroker, uniqueName } from '../support/broker.js';
import { childEnv, QTOOL_BIN, runCli } from '../support/cli.js';
import { closedPort } from '../support/ports.js';

const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
const { hostname, port } = new URL(broker.amqpUrl);
const STACK_LINE = /\n\s+at /;
/** The test broker's address with someone else's credentials. */
const loginAs = (username: string, password: string) => [
  '--host',
  hostname,
  '--port',
  port,
  '--username',
  username,
  '--password',
  password,
];

describe('usage errors exit 2 with a message, no stack trace', () => {
  it.each([
    [['send', '--bogus']],
    [['send', '--count', 'abc', 'x']],
    [['send', '--count', '0', 'x']],
    [['receive', '--count', '-1']],
    [['receive', '--prefetch', '0']],
    [['receive', '--idle-timeout', 'soon']],
    [['qprocessor', '--delay-per-char', '-1']],
    [['qprocessor', '--lose-every', '0']],
    [['qprocessor', '--on-lose', 'explode']],
    [['send', '--port', 'http', 'x']],
    [['send', '--heartbeat', '-5', 'x']],
    [['send', '--url', 'http://localhost', 'x']],
    [['frobnicate']],
  ])('qtool %j', async (args) => {
    const result = await runCli(args, { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/error|invalid|must|not a/i);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('reads a bad environment value as a usage error naming the variable', async () => {
    const result = await runCli(['send', 'x'], { env: { QTOOL_PORT: 'abc' } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/QTOOL_PORT/);
  });

  it('refuses a file that does not exist before connecting', async () => {
    const result = await runCli(['send', '--file', '/nonexistent/messages.txt'], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/cannot read --file \/nonexistent\/messages.txt/);
  });

  it('exits 0 without a word when the reader of its output goes away (`| head -1`)', async () => {
    const queue = uniqueName('epipe');
    await runCli(['send', '--queue', queue, 'x'], { env });
    // `true` exits without reading: every write qtool makes after that fails with EPIPE.
    const commands = [
      `config show | true`,
      `status --no-management ${queue} | true`,
      `watch --no-management --count 3 --interval 0.2 ${queue} | true`,
      `peek --queue ${queue} --json | true`,
    ];
    for (const command of commands) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const [code, stderr] = await new Promise<[string, string]>((resolve) => {
          execFile(
            'bash',
            ['-c', `"${process.execPath}" "${QTOOL_BIN}" ${command}; echo "rc=\${PIPESTATUS[0]}" >&2`],
            { env: childEnv(env), encoding: 'utf8', timeout: 30_000 },
            (_error, _stdout, err) => resolve([/rc=(\d+)/.exec(err)?.[1] ?? '?', err]),
          );
        });
        expect(stderr, command).not.toMatch(/unexpected error|EPIPE/);
        expect(code, `${command}\n${stderr}`).toBe('0');
      }
    }
  });

  it('refuses a folder given as --file as a usage error, not "EISDIR"', async () => {
    const result = await runCli(['send', '--file', tmpdir()], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`--file ${tmpdir()} is a folder`);
  });

  it('shows help with exit 0', async () => {
    const result = await runCli(['qprocessor', '--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/--lose-every/);
    expect(result.stdout).toMatch(/--host/); // connection options show on every subcommand
  });
});

describe('broker trouble exits 1 with a plain message', () => {
  it('names host:port and suggests docker compose when the connection is refused', async () => {
    const free = await closedPort();
    const result = await runCli(['send', '--host', `127.0.0.1:${free}`, 'x']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`127.0.0.1:${free}: connection refused`);
    expect(result.stderr).toContain('docker compose up -d');
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('says a host name does not resolve', async () => {
    const result = await runCli(['receive', '--host', 'no-such-host.invalid']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/unknown host 'no-such-host.invalid'/);
  });

  it('says when the port does not speak AMQP', async () => {
    const server: Server = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port: httpPort } = server.address() as { port: number };
      const result = await runCli(['send', '--host', '127.0.0.1', '--port', String(httpPort), 'x']);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/AMQP/);
      expect(result.stderr).not.toMatch(STACK_LINE);
    } finally {
      server.close();
    }
  });

  it('explains a wrong password and never shows it, not even with --verbose', async () => {
    const password = 'Wr0ngPassw0rd!';
    for (const extra of [[], ['--verbose']]) {
      const result = await runCli(['send', ...loginAs('guest', password), ...extra, 'x'], {});
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/refused the login for user 'guest': wrong username or password/);
      expect(result.stdout + result.stderr).not.toContain(password);
    }
  });

  it('keeps a password given in the URL out of every message', async () => {
    const password = 'UrlSecret123';
    const result = await runCli(['send', 'x'], {
      env: { AMQP_URL: `amqp://guest:${password}@${hostname}:${port}/%2F` },
    });
    expect(result.exitCode).toBe(1);
    expect(result.stdout + result.stderr).not.toContain(password);
  });

  it('explains a vhost that does not exist', async () => {
    const vhost = uniqueName('novhost');
    const result = await runCli(['send', '--vhost', vhost, 'x'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`cannot open vhost '${vhost}'.*does not exist, or the user has no permission`),
    );
    expect(result.stderr).toMatch(/rabbitmqctl add_vhost/);
  });

  it.skipIf(!broker.hasCtl)('explains a vhost the user may not use', async () => {
    const vhost = uniqueName('private');
    await broker.ctl(['add_vhost', vhost]);
    try {
      const result = await runCli(['receive', '--vhost', vhost], { env });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/no permission/);
      expect(result.stderr).toMatch(/set_permissions -p/);
    } finally {
      await broker.ctl(['delete_vhost', vhost]);
    }
  });

  it.skipIf(!broker.hasCtl)('explains a queue the user has no permission for', async () => {
    const user = uniqueName('limited');
    await broker.ctl(['add_user', user, 'limitedpw']);
    await broker.ctl(['set_permissions', '-p', '/', user, '^$', '^$', '^$']);
    try {
      const result = await runCli(
        ['send', ...loginAs(user, 'limitedpw'), '--queue', uniqueName('q'), 'x'],
        {},
      );
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/permission denied/);
      expect(result.stderr).not.toContain('limitedpw');
    } finally {
      await broker.ctl(['delete_user', user]);
    }
  });
});
