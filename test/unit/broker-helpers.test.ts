import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { logReport, tailLines } from '../../src/broker/logs.js';
import {
  nodeEnvironment,
  nodeLayout,
  renderEnabledPlugins,
  renderRabbitmqConf,
} from '../../src/broker/node-files.js';
import { canTraverse, firstUntraversableAncestor, type UnixUser } from '../../src/broker/ownership.js';
import {
  ephemeralRangeFrom,
  isPortAnswering,
  isReservedPort,
  pickFreePorts,
} from '../../src/broker/ports.js';
import {
  commandBehind,
  environmentWithoutRabbitmqVariables,
  escapeForSuWrapper,
  suWrapperTarget,
} from '../../src/broker/tools.js';

const DEBIAN_WRAPPER = `#!/bin/sh
cd /var/lib/rabbitmq
SCRIPT=\`basename $0\`
if [ \`id -u\` = \`id -u rabbitmq\` -a "$SCRIPT" = "rabbitmq-server" ] ; then
    /usr/lib/rabbitmq/bin/rabbitmq-server "$@"  > "/var/log/rabbitmq/startup_log" 2> "/var/log/rabbitmq/startup_err"
elif [ \`id -u\` = 0 ] ; then
    su rabbitmq -s /bin/sh -c "/usr/lib/rabbitmq/bin/\${SCRIPT} \${CMDLINE}"
fi
`;

describe('Debian su wrapper handling', () => {
  it('recognises the wrapper and where the real scripts are', () => {
    expect(suWrapperTarget(DEBIAN_WRAPPER)).toBe('/usr/lib/rabbitmq/bin');
    expect(suWrapperTarget('#!/bin/sh\nexec erl "$@"\n')).toBeNull();
  });

  it('escapes what the inner shell would otherwise interpret', () => {
    expect(escapeForSuWrapper('[$a, "x\\"y", `id`].')).toBe('[\\$a, "x\\\\"y", \\`id\\`].');
    expect(escapeForSuWrapper('list_queues name messages')).toBe('list_queues name messages');
  });
});

describe('node files', () => {
  it('writes a rabbitmq.conf with management bound to 127.0.0.1 and the extra lines', () => {
    const conf = renderRabbitmqConf({ managementPort: 15999, extraConfig: { max_message_size: '16777216' } });
    expect(conf).toContain('management.tcp.ip = 127.0.0.1\n');
    expect(conf).toContain('management.tcp.port = 15999\n');
    expect(conf).toContain('max_message_size = 16777216\n');
    expect(renderRabbitmqConf({ managementPort: null })).not.toContain('management.');
  });

  it('rejects extra config that would break the file', () => {
    expect(() => renderRabbitmqConf({ managementPort: null, extraConfig: { 'a = b': '1' } })).toThrow(
      TypeError,
    );
    expect(() => renderRabbitmqConf({ managementPort: null, extraConfig: { a: '1\nb = 2' } })).toThrow(
      TypeError,
    );
  });

  it('enables the management plugin only when asked', () => {
    expect(renderEnabledPlugins(true)).toBe('[rabbitmq_management].\n');
    expect(renderEnabledPlugins(false)).toBe('[].\n');
  });

  it('points every RabbitMQ path into the base folder', () => {
    const layout = nodeLayout('/tmp/qtool-x');
    const env = nodeEnvironment({ layout, nodeName: 'n@localhost', amqpPort: 40001, distPort: 40002 });
    expect(env).toMatchObject({
      RABBITMQ_NODENAME: 'n@localhost',
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: '40001',
      RABBITMQ_DIST_PORT: '40002',
      RABBITMQ_CONFIG_FILE: '/tmp/qtool-x/rabbitmq.conf',
      RABBITMQ_PID_FILE: '/tmp/qtool-x/rabbitmq.pid',
    });
    for (const [key, value] of Object.entries(env)) {
      if (value.startsWith('/')) expect(value, key).toMatch(/^\/tmp\/qtool-x\//);
    }
  });

  it('drops inherited RABBITMQ_* variables only', () => {
    expect(
      environmentWithoutRabbitmqVariables({ RABBITMQ_NODENAME: 'x', PATH: '/bin', HOME: undefined }),
    ).toEqual({
      PATH: '/bin',
    });
  });
});

describe('ownership', () => {
  const rabbitmq: UnixUser = { name: 'rabbitmq', uid: 103, gid: 106, groups: [106, 7] };

  it('checks search permission the way the kernel does', () => {
    expect(canTraverse({ uid: 0, gid: 0, mode: 0o40700 }, rabbitmq)).toBe(false);
    expect(canTraverse({ uid: 0, gid: 0, mode: 0o40711 }, rabbitmq)).toBe(true);
    expect(canTraverse({ uid: 103, gid: 0, mode: 0o40700 }, rabbitmq)).toBe(true);
    expect(canTraverse({ uid: 0, gid: 7, mode: 0o40750 }, rabbitmq)).toBe(true);
    // Owner bits decide for the owner, even when "others" may pass.
    expect(canTraverse({ uid: 103, gid: 0, mode: 0o40601 }, rabbitmq)).toBe(false);
  });

  it("checks a chroot node's way from its own root down only", async () => {
    const closed = await mkdtemp(join(tmpdir(), 'qtool-closed-'));
    try {
      await chmod(closed, 0o700);
      const root = join(closed, 'root');
      await mkdir(join(root, 'tmp'), { recursive: true });
      await chmod(root, 0o755);
      const baseDir = join(root, 'tmp', 'node');
      const someone: UnixUser = { name: 'someone', uid: 64_123, gid: 64_123, groups: [64_123] };
      expect(await firstUntraversableAncestor(baseDir, someone)).toBe(closed);
      expect(await firstUntraversableAncestor(baseDir, someone, root)).toBeNull();
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  });
});

describe('commands behind a prefix', () => {
  it('runs the tool itself without one, and behind chroot ROOT with one', () => {
    expect(commandBehind([], '/usr/sbin/rabbitmqctl', ['-n', 'a@b'])).toEqual([
      '/usr/sbin/rabbitmqctl',
      ['-n', 'a@b'],
    ]);
    expect(commandBehind(['/usr/sbin/chroot', '/srv/root'], '/usr/sbin/rabbitmqctl', ['status'])).toEqual([
      '/usr/sbin/chroot',
      ['/srv/root', '/usr/sbin/rabbitmqctl', 'status'],
    ]);
  });
});

describe('ports', () => {
  it('hands out distinct, free, unreserved ports', async () => {
    const ports = await pickFreePorts(4);
    expect(new Set(ports).size).toBe(4);
    for (const port of ports) {
      expect(isReservedPort(port)).toBe(false);
      expect(await isPortAnswering('127.0.0.1', port, 300)).toBe(false);
    }
    expect(isReservedPort(35675)).toBe(true);
    expect(isReservedPort(5672)).toBe(true);
  });

  it('picks ports outside the range the kernel hands out to bind(0) and outgoing connections', async () => {
    // A node that restarts keeps its ports; had a test's client socket or another node's port pick
    // been given one of them by the kernel while it was down, the restart (or the other node) fails
    // with "could not bind to distribution port N, it is in use by another node".
    const [low, high] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'))
      .trim()
      .split(/\s+/)
      .map(Number) as [number, number];
    const ports = await pickFreePorts(20);
    for (const port of ports) expect(port < low || port > high, `port ${port}`).toBe(true);
    expect(ephemeralRangeFrom('32768\t60999\n')).toEqual([32768, 60999]);
    expect(ephemeralRangeFrom('garbage')).toEqual([32768, 60999]);
    expect(ephemeralRangeFrom('1024 65535')).toEqual([1024, 65535]);
  });

  it('skips a candidate port that something already listens on', async () => {
    const [busy, free] = (await pickFreePorts(2)) as [number, number];
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(busy, '127.0.0.1', resolve));
    try {
      expect(await pickFreePorts(1, '127.0.0.1', [busy, free][Symbol.iterator]())).toEqual([free]);
    } finally {
      server.close();
    }
  });

  it('probes a TCP port', async () => {
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    expect(await isPortAnswering('127.0.0.1', port)).toBe(true);
    await new Promise((resolve) => server.close(resolve));
    expect(await isPortAnswering('127.0.0.1', port)).toBe(false);
  });
});

describe('log reports', () => {
  it('keeps the last lines', () => {
    expect(tailLines('a\nb\nc\n\n', 2)).toEqual(['b', 'c']);
    expect(tailLines('', 5)).toEqual([]);
  });

  it('puts the first error lines before the tails of the files that exist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qtool-logs-'));
    try {
      const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
      lines[10] = '2024-01-01 [error] <0.1.0>   - "banana" cannot be converted to a(n) integer';
      await writeFile(join(dir, 'startup_log'), `${lines.join('\n')}\n`);
      await writeFile(join(dir, 'empty'), '');
      const report = await logReport(
        [join(dir, 'missing'), join(dir, 'empty'), join(dir, 'startup_log')],
        40,
      );
      expect(report.indexOf('banana')).toBeLessThan(report.indexOf('line 99'));
      expect(report).toContain(`--- last 40 lines of ${join(dir, 'startup_log')} ---`);
      expect(report).toContain('line 60');
      expect(report).not.toContain('line 59\n');
      expect(report).not.toContain('empty');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
