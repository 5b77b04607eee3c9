import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { runCli, startCli } from '../support/cli.js';

/**
 * Where status and watch take their figures from when the management API misbehaves: the AMQP side
 * is the real shared test broker, the API a small HTTP server of this file that answers as the
 * real one does, or fails as a real one can (refusals, 404, 5xx, not JSON, no answer), on cue.
 * The real API's own refusals and another broker's API are in status-management.test.ts.
 */
const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };

type Mode = 'ok' | 'not-management-user' | 'forbidden' | 'no-vhost' | 'server-error' | 'not-json' | 'silent';

/** What the stand-in API says about one queue, as GET /api/queues/{vhost} lists it. */
type ApiQueue = Record<string, unknown> & { name: string };

interface FakeApi {
  url: string;
  mode: Mode;
  clusterName: string | undefined;
  queues: ApiQueue[];
  /** Requests answered so far, by path. */
  requests: string[];
  close(): Promise<void>;
}

async function startFakeApi(clusterName: string | undefined): Promise<FakeApi> {
  const pending: ServerResponse[] = [];
  const api: FakeApi = {
    url: '',
    mode: 'ok',
    clusterName,
    queues: [],
    requests: [],
    close: async () => {
      for (const response of pending) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const json = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = request.url ?? '';
    api.requests.push(path);
    switch (api.mode) {
      case 'silent':
        pending.push(response); // never answered
        return;
      case 'not-management-user':
        return json(response, 401, { error: 'not_authorised', reason: 'Not management user' });
      case 'forbidden':
        return json(response, 403, { error: 'not_authorised', reason: 'Not authorised' });
      case 'server-error':
        return json(response, 500, { error: 'internal_server_error' });
      case 'not-json':
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end('<html>a proxy page</html>');
        return;
    }
    if (path === '/api/overview') {
      return json(response, 200, api.clusterName === undefined ? {} : { cluster_name: api.clusterName });
    }
    if (path.startsWith('/api/queues/')) {
      if (api.mode === 'no-vhost')
        return json(response, 404, { error: 'Object Not Found', reason: 'Not Found' });
      return json(response, 200, api.queues);
    }
    return json(response, 404, { error: 'Object Not Found', reason: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return api;
}

/** The cluster name the test broker announces over AMQP, as the real API would report it. */
async function brokerClusterName(): Promise<string> {
  return withChannel(broker.amqpUrl, async (channel) => {
    const name = channel.connection.serverProperties.cluster_name;
    if (typeof name !== 'string') throw new Error('the test broker announced no cluster_name');
    return name;
  });
}

/** An API row as RabbitMQ gives it; the figures are the stand-in's, different from the broker's own. */
function apiQueue(name: string, figures: { ready: number; unacked: number }): ApiQueue {
  return {
    name,
    messages_ready: figures.ready,
    messages_unacknowledged: figures.unacked,
    messages: figures.ready + figures.unacked,
    consumers: 0,
    message_stats: { publish_details: { rate: 0.5 } },
  };
}

describe('status and watch when the management API fails', () => {
  let api: FakeApi;
  let management: string[];

  beforeAll(async () => {
    api = await startFakeApi(await brokerClusterName());
    management = ['--management-url', api.url];
  });

  afterAll(async () => {
    await api?.close();
  });

  const failures: { mode: Mode; line: RegExp }[] = [
    { mode: 'not-management-user', line: /refused user 'guest' \(no management tag\)/ },
    { mode: 'forbidden', line: /refused user 'guest' \(HTTP 403/ },
    { mode: 'no-vhost', line: /the management API at .* does not know vhost '\/'/ },
    { mode: 'server-error', line: /the management API at .* answered HTTP 500/ },
    { mode: 'not-json', line: /no management API at .*: the answer was not/ },
  ];

  for (const { mode, line } of failures) {
    it(`falls back to AMQP figures, exit 0, with one line saying why: ${mode}`, async () => {
      api.mode = mode;
      const queue = uniqueName(`src-${mode}`);
      await runCli(['send', '--queue', queue, 'a', 'b'], { env });
      const result = await runCli(['status', queue, '--json', ...management], { env });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        source: 'amqp',
        queues: [{ name: queue, ready: 2, unacked: null, total: null, consumers: 0 }],
      });
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^source: AMQP only \(ready and consumers; no unacked, total or rates\): /);
      expect(lines[0]).toMatch(line);
    });
  }

  it('falls back when the API does not answer in time', async () => {
    api.mode = 'silent';
    const queue = uniqueName('src-silent');
    await runCli(['send', '--queue', queue, 'a'], { env });
    const result = await runCli(['watch', queue, '--count', '2', '--interval', '0.1', ...management], {
      env,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(2);
    expect(result.stdout).toMatch(new RegExp(`${queue} ready=1 unacked=- total=- consumers=0`));
    expect(result.stderr).toMatch(/no management API at .*: no answer within 3 s/);
  });

  it('a failure mid-watch: carries on with AMQP figures and says so once', async () => {
    const queue = uniqueName('src-midwatch');
    await runCli(['send', '--queue', queue, 'a', 'b', 'c'], { env });
    api.mode = 'ok';
    api.queues = [apiQueue(queue, { ready: 3, unacked: 0 })];
    const watch = startCli(['watch', queue, '--interval', '0.1', ...management], { env });
    try {
      await watch.waitFor(new RegExp(`${queue} ready=3 unacked=0 total=3`));
      api.mode = 'server-error';
      await watch.waitFor(new RegExp(`${queue} ready=3 unacked=- total=-`));
      const linesAtFallback = watch.stdout().split('\n').length;
      // Several more samples over AMQP, and still only one line about it.
      await eventually(
        () => watch.stdout().split('\n').length >= linesAtFallback + 5,
        'five more samples after the fallback',
      );
      watch.signal('SIGINT');
      const result = await watch.finished();
      expect(result.exitCode, result.stderr).toBe(0);
      const notices = result.stderr.split('\n').filter((line) => line.includes('answered HTTP 500'));
      expect(notices).toEqual([
        expect.stringMatching(/: AMQP figures only \(ready and consumers\) until it answers again$/),
      ]);
      expect(result.stderr).not.toMatch(/lost the management API/);
    } finally {
      watch.signal('SIGINT');
      await watch.finished().catch(() => {});
    }
  });

  it('--json mid-watch: each sample names its own source', async () => {
    const queue = uniqueName('src-json');
    await runCli(['send', '--queue', queue, 'a'], { env });
    api.mode = 'ok';
    api.queues = [apiQueue(queue, { ready: 1, unacked: 0 })];
    const watch = startCli(['watch', queue, '--json', '--interval', '0.1', ...management], { env });
    try {
      await watch.waitFor(/"source":"management"/);
      api.mode = 'not-management-user';
      await watch.waitFor(/"source":"amqp"/);
      watch.signal('SIGINT');
      const result = await watch.finished();
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/refused user 'guest' \(no management tag\): AMQP figures only/);
    } finally {
      watch.signal('SIGINT');
      await watch.finished().catch(() => {});
    }
  });
});

describe('status and watch show only figures that were true at one moment', () => {
  let api: FakeApi;
  let management: string[];

  beforeAll(async () => {
    api = await startFakeApi(await brokerClusterName());
    management = ['--management-url', api.url];
  });

  afterAll(async () => {
    await api?.close();
  });

  it("total is the API's own, never the live ready count added to the API's older unacked", async () => {
    const queue = uniqueName('src-total');
    await runCli(['send', '--queue', queue, 'a', 'b'], { env });
    // The API's sample, from before: 7 ready and 3 unacked, 10 in all. The broker has 2 ready now.
    api.queues = [apiQueue(queue, { ready: 7, unacked: 3 })];
    const result = await runCli(['status', queue, '--json', ...management], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      source: 'management',
      queues: [{ name: queue, ready: 2, unacked: 3, total: 10 }],
    });
    expect(result.stderr).toMatch(/unacked, total and rates lag up to 5 s; ready and consumers are live/);

    const watch = await runCli(['watch', queue, '--count', '1', ...management], { env });
    expect(watch.exitCode, watch.stderr).toBe(0);
    expect(watch.stdout).toMatch(new RegExp(`${queue} ready=2 unacked=3 total=10 `));
  });

  it("keeps live ready counts for every queue while another connection's exclusive queue is listed", async () => {
    const queue = uniqueName('src-beside-excl');
    await runCli(['send', '--queue', queue, 'a', 'b'], { env });
    await withChannel(broker.amqpUrl, async (channel) => {
      // A tutorial's reply queue: no one else may declare it, not even passively.
      const { queue: exclusive } = await channel.assertQueue('', { exclusive: true });
      api.queues = [apiQueue(exclusive, { ready: 0, unacked: 0 }), apiQueue(queue, { ready: 7, unacked: 0 })];
      const result = await runCli(['status', '--json', ...management], { env });
      expect(result.exitCode, result.stderr).toBe(0);
      const rows = new Map(
        (JSON.parse(result.stdout).queues as { name: string }[]).map((row) => [row.name, row]),
      );
      expect(rows.get(queue)).toMatchObject({ ready: 2 });
      expect(rows.get(exclusive)).toMatchObject({ ready: 0, unacked: 0 });
      expect(result.stderr).toMatch(/ready and consumers are live/);
    });
  });

  it('says the figures may be from another broker when the API does not tell its cluster name', async () => {
    const unnamed = await startFakeApi(undefined);
    try {
      const queue = uniqueName('src-unnamed');
      await runCli(['send', '--queue', queue, 'a'], { env });
      unnamed.queues = [apiQueue(queue, { ready: 1, unacked: 0 })];
      const result = await runCli(['status', queue, '--json', '--management-url', unnamed.url], { env });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout).source).toBe('management');
      expect(result.stderr).toMatch(/did not say its cluster name: the figures may be from another broker/);
    } finally {
      await unnamed.close();
    }
  });

  it("does not use an API whose cluster name is another broker's", async () => {
    const other = await startFakeApi('rabbit@somewhere-else');
    try {
      const queue = uniqueName('src-other');
      await runCli(['send', '--queue', queue, 'a'], { env });
      other.queues = [apiQueue(queue, { ready: 9, unacked: 9 })];
      const result = await runCli(['status', queue, '--json', '--management-url', other.url], { env });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ source: 'amqp', queues: [{ ready: 1 }] });
      expect(result.stderr).toContain(
        `the management API at ${other.url} belongs to another broker ('rabbit@somewhere-else', not '${await brokerClusterName()}' of this connection); check --management-url`,
      );
      // Asked who it is, and then nothing more.
      expect(other.requests).toEqual(['/api/overview']);
    } finally {
      await other.close();
    }
  });
});
