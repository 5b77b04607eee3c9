import { describe, expect, it } from 'vitest';
import { matchBroker } from '../../src/commands/management-link.js';
import { fromManagement, unknownFigures, withLiveCounts } from '../../src/commands/queue-sampler.js';
import { displayManagementUrl, managementTarget } from '../../src/management/client.js';
import {
  plainLine,
  type QueueFigures,
  rememberSample,
  renderTable,
  renderWatchFrame,
  type SparklineHistory,
  sparkline,
  sparklineFigure,
  truncate,
} from '../../src/output/queue-table.js';

function figures(name: string, overrides: Partial<QueueFigures> = {}): QueueFigures {
  return {
    name,
    ready: 3,
    unacked: 1,
    total: 4,
    consumers: 2,
    publishRate: 1.25,
    deliverRate: 0.5,
    ackRate: 0,
    redeliverRate: 0,
    ...overrides,
  };
}

describe('renderTable', () => {
  it('right-aligns numbers under headers, each column as wide as its widest cell', () => {
    const lines = renderTable([figures('hello'), figures('b', { ready: 1234567, publishRate: 250.4 })]);
    expect(lines).toEqual([
      'queue    ready  unacked  total  consumers  pub/s  deliver/s  ack/s',
      'hello        3        1      4          2    1.3        0.5    0.0',
      'b      1234567        1      4          2    250        0.5    0.0',
    ]);
  });

  it("shows a figure the source cannot give as '-'", () => {
    const amqpOnly = figures('q', {
      unacked: null,
      total: null,
      publishRate: null,
      deliverRate: null,
      ackRate: null,
    });
    const [, row] = renderTable([amqpOnly]);
    expect(row?.split(/\s+/)).toEqual(['q', '3', '-', '-', '2', '-', '-', '-']);
  });

  it('fits 80 columns by shortening long names with an ellipsis', () => {
    const long = `orders-${'x'.repeat(60)}`;
    const lines = renderTable([figures(long), figures('short')], { maxWidth: 80 });
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80);
    expect(lines[1]).toMatch(/^orders-x+… +3 +1 +4 +2 +1\.3 +0\.5 +0\.0$/);
    expect([...(lines[1] ?? '')].length).toBe(80);
    expect(lines[2]).toMatch(/^short +3/);
  });

  it('cuts whole lines when even a short name does not fit', () => {
    const lines = renderTable([figures('abcdefghijkl')], { maxWidth: 40 });
    for (const line of lines) expect([...line].length).toBe(40);
    expect(lines[1]?.endsWith('…')).toBe(true);
  });

  it('marks a deleted queue and shows none of its figures', () => {
    const [, row] = renderTable([{ ...figures('gone-q'), gone: true }]);
    expect(row).toMatch(/^gone-q \(missing\) +- +- +- +- +- +- +-$/);
  });
});

describe('sparkline', () => {
  it('scales from 0 to the largest value: empty is the floor, the peak is the top', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8)).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([0, 100, 50], 3)).toBe('▁█▅');
  });

  it('lifts any non-zero depth above the floor', () => {
    expect(sparkline([1000, 1, 0], 3)).toBe('█▂▁');
  });

  it('shows only the last samples that fit, and blanks for unknown ones', () => {
    expect(sparkline([9, 9, 9, 0, 4, null, 8], 4)).toBe('▁▅ █');
    expect(sparkline([0, 0, 0], 5)).toBe('▁▁▁');
    expect(sparkline([1, 2], 0)).toBe('');
  });
});

describe('truncate', () => {
  it('keeps short text and cuts long text to the width, ellipsis included', () => {
    expect(truncate('hello', 5)).toBe('hello');
    expect(truncate('hello!', 5)).toBe('hell…');
  });
});

describe('sparklineFigure', () => {
  it('draws the live ready count when there is one, so the line follows messages as they come and go', () => {
    expect(sparklineFigure(figures('a', { ready: 3, total: 9 }), true)).toEqual({ label: 'ready', value: 3 });
  });

  it("else the API's own total (depth), else the ready count; nothing for a deleted queue", () => {
    expect(sparklineFigure(figures('a'), false)).toEqual({ label: 'depth', value: 4 });
    expect(sparklineFigure(figures('a', { total: null }), false)).toEqual({ label: 'ready', value: 3 });
    expect(sparklineFigure({ ...figures('a'), gone: true }, false).value).toBeNull();
  });
});

describe('rememberSample', () => {
  it('keeps one kind of figure per line: a change of kind starts the history over', () => {
    const history = new Map<string, SparklineHistory>();
    rememberSample(history, [figures('q', { ready: 1, total: 5 })], false, 10);
    rememberSample(history, [figures('q', { ready: 2, total: 6 })], false, 10);
    expect(history.get('q')).toEqual({ label: 'depth', samples: [5, 6] });
    rememberSample(history, [figures('q', { ready: 2, total: 6 })], true, 10);
    expect(history.get('q')).toEqual({ label: 'ready', samples: [2] });
  });

  it('keeps at most `limit` samples, blanks a deleted queue, and forgets queues no longer listed', () => {
    const history = new Map<string, SparklineHistory>();
    for (const ready of [1, 2, 3]) rememberSample(history, [figures('q', { ready }), figures('r')], true, 2);
    expect(history.get('q')?.samples).toEqual([2, 3]);
    rememberSample(history, [{ ...figures('q'), gone: true }], false, 2);
    expect(history.get('q')).toEqual({ label: 'ready', samples: [3, null] });
    expect(history.has('r')).toBe(false);
  });
});

describe('plainLine', () => {
  it('is one timestamped key=value line, no escape codes', () => {
    const line = plainLine(new Date(2026, 0, 2, 7, 8, 9, 10), figures('hello', { unacked: null }));
    expect(line).toBe(
      '07:08:09.010 hello ready=3 unacked=- total=4 consumers=2 pub/s=1.3 deliver/s=0.5 ack/s=0.0 redeliver/s=0.0',
    );
  });
});

describe('renderWatchFrame', () => {
  const base = {
    title: 'qtool watch amqp://guest@localhost:5672/%2F, every 1 s; q quits',
    note: 'AMQP only',
    time: new Date(2026, 0, 2, 7, 8, 9, 10),
    width: 80,
    height: 23,
  };

  it('shows each queue with a sparkline of its depth history', () => {
    const lines = renderWatchFrame({
      ...base,
      rows: [figures('hello')],
      history: new Map([['hello', { label: 'depth' as const, samples: [0, 2, 4] }]]),
    });
    expect(lines[1]).toBe('07:08:09.010  AMQP only');
    expect(lines[3]).toMatch(/^queue +ready/);
    expect(lines[4]).toMatch(/^hello +3 +1 +4/);
    expect(lines[5]).toBe('  depth ▁▅█  max 4');
  });

  it('fits the pane: never wider or taller than given, and says how many queues are hidden', () => {
    const rows = Array.from({ length: 30 }, (_, index) => figures(`queue-${index}-${'n'.repeat(70)}`));
    const history = new Map(
      rows.map((row) => [
        row.name,
        { label: 'depth' as const, samples: Array.from({ length: 500 }, (_, i) => i % 9) },
      ]),
    );
    const lines = renderWatchFrame({ ...base, rows, history });
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80);
    expect(lines.at(-1)).toMatch(/^… and 21 more/);
    expect(lines[5]).toMatch(/^ {2}depth [▁▂▃▄▅▆▇█]{60,} {2}max 8$/);
  });
});

describe('fromManagement', () => {
  it('reads ready, unacked, total, consumers and the three rates; no stats yet means rate 0', () => {
    expect(
      fromManagement({
        name: 'q',
        messages_ready: 5,
        messages_unacknowledged: 1,
        messages: 6,
        consumers: 2,
        message_stats: {
          publish_details: { rate: 3.2 },
          deliver_get_details: { rate: 1.5 },
          ack_details: { rate: 1.4 },
        },
      }),
    ).toEqual({
      name: 'q',
      ready: 5,
      unacked: 1,
      total: 6,
      consumers: 2,
      publishRate: 3.2,
      deliverRate: 1.5,
      ackRate: 1.4,
      redeliverRate: 0,
    });
    expect(fromManagement({ name: 'fresh' })).toMatchObject({ ready: null, consumers: null, publishRate: 0 });
  });
});

describe('managementTarget', () => {
  const settings = {
    protocol: 'amqp' as const,
    hostname: 'rabbit.example',
    port: 5672,
    failover: [],
    vhost: 'student1',
    username: 'student1',
    password: 's3cret-pw',
    heartbeat: undefined,
    queue: 'hello',
    ca: undefined,
    cert: undefined,
    key: undefined,
    servername: undefined,
    insecure: false,
  };

  it('defaults to http on port 15672 of the broker host with the same credentials', () => {
    expect(managementTarget(settings, undefined)).toEqual({
      baseUrl: 'http://rabbit.example:15672/',
      username: 'student1',
      password: 's3cret-pw',
      explicit: false,
      tls: undefined,
    });
    expect(managementTarget({ ...settings, hostname: '::1' }, undefined).baseUrl).toBe('http://[::1]:15672/');
  });

  it('with a TLS connection, defaults to https on 15671 with the same TLS options, never plain http', () => {
    const tls = { rejectUnauthorized: true, servername: 'rabbit.example' };
    const target = managementTarget(
      { ...settings, protocol: 'amqps', port: 5671 },
      undefined,
      undefined,
      tls,
    );
    expect(target.baseUrl).toBe('https://rabbit.example:15671/');
    expect(target.tls).toBe(tls);
    // Plain http only when the user writes it out.
    const written = managementTarget(
      { ...settings, protocol: 'amqps' },
      'http://rabbit.example:15672',
      undefined,
      tls,
    );
    expect(written.baseUrl).toBe('http://rabbit.example:15672/');
    expect(written.tls).toBeUndefined();
  });

  it('takes credentials out of --management-url, so they are never shown', () => {
    const target = managementTarget(settings, 'https://admin:pa%40ss@mgmt.example/rabbitmq');
    expect(target).toEqual({
      baseUrl: 'https://mgmt.example/rabbitmq/',
      username: 'admin',
      password: 'pa@ss',
      explicit: true,
      tls: { rejectUnauthorized: true },
    });
    expect(displayManagementUrl(target)).toBe('https://mgmt.example/rabbitmq');
  });

  it('refuses a URL that is not http(s), without echoing it', () => {
    expect(() => managementTarget(settings, 'amqp://u:hidden@h')).toThrow(/must start with http/);
    expect(() => managementTarget(settings, 'not a url hidden')).toThrow(
      /^--management-url is not a valid URL$/,
    );
  });
});

describe('withLiveCounts', () => {
  const fromApi = { ...figures('jobs'), ready: 7, unacked: 3, total: 10, consumers: 2 };

  it("takes ready and consumers from the passive declare and keeps the API's own total", () => {
    // 2 + 3 = 5 was never the queue's total: the 3 unacked are up to 5 s older than the 2 ready.
    expect(withLiveCounts(fromApi, { name: 'jobs', ready: 2, consumers: 3 })).toEqual({
      ...fromApi,
      ready: 2,
      consumers: 3,
      total: 10,
    });
  });

  it('keeps the API row when the queue was not probed, or is an exclusive queue AMQP cannot read', () => {
    expect(withLiveCounts(fromApi, undefined)).toBe(fromApi);
    expect(withLiveCounts(fromApi, 'exclusive')).toBe(fromApi);
  });

  it('marks a queue gone when AMQP finds no such queue, whatever the API still lists', () => {
    expect(withLiveCounts(fromApi, null)).toEqual({ ...unknownFigures('jobs'), gone: true });
  });

  it('shows a queue the API does not list yet, without inventing its unacked or total', () => {
    const unlisted = { ...unknownFigures('new'), gone: true as const };
    const row = withLiveCounts(unlisted, { name: 'new', ready: 4, consumers: 0 });
    expect(row).toEqual({ ...unknownFigures('new'), ready: 4, consumers: 0 });
    expect(row).not.toHaveProperty('gone');
    expect(withLiveCounts(unlisted, 'exclusive')).toEqual(unknownFigures('new'));
  });
});

describe('matchBroker', () => {
  const guessed = { baseUrl: 'http://localhost:15672/', explicit: false };
  const given = { baseUrl: 'http://localhost:15673/', explicit: true };

  it('is the same broker when the cluster names agree', () => {
    expect(matchBroker('rabbit@a', { clusterName: 'rabbit@a', node: null }, guessed)).toEqual({
      same: true,
      doubt: null,
    });
  });

  it('names the other broker, and the way out, when they differ', () => {
    const verdict = matchBroker('rabbit@a', { clusterName: 'rabbit@b', node: 'rabbit@b' }, guessed);
    expect(verdict).toMatchObject({ same: false, brief: "management API is another broker's" });
    expect(verdict.same === false && verdict.why).toBe(
      "the management API at http://localhost:15672 belongs to another broker ('rabbit@b', node 'rabbit@b', not 'rabbit@a' of this connection); pass --management-url with the API of the broker you connect to (its port is in that broker's config)",
    );
    const explicit = matchBroker('rabbit@a', { clusterName: 'rabbit@b', node: null }, given);
    expect(explicit.same === false && explicit.why).toMatch(
      /\('rabbit@b', not 'rabbit@a' .*\); check --management-url$/,
    );
  });

  it('uses the API but says the figures may be from another broker when a name is missing', () => {
    expect(matchBroker(null, { clusterName: 'rabbit@b', node: null }, guessed)).toMatchObject({
      same: true,
      doubt: expect.stringMatching(/may be from another broker/),
    });
    expect(matchBroker('rabbit@a', { clusterName: null, node: null }, guessed)).toMatchObject({
      same: true,
      doubt: expect.stringMatching(/may be from another broker/),
    });
  });
});
