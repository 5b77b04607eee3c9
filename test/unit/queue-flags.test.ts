import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { deliveryCountField, deliveryCountOf } from '../../src/amqp/delivery-count.js';
import { queueOptions } from '../../src/cli/queue-options.js';
import { checkStreamConsumer } from '../../src/commands/queue-request.js';
import { UsageError } from '../../src/errors.js';
import { createStyle } from '../../src/output/style.js';
import { createWorkerReporter, type DeliveryInfo } from '../../src/output/worker-report.js';
import { deliveryLimitNotice, rabbitmqVersion } from '../../src/worker/delivery-limit.js';

function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error('expected a usage error');
}

describe('queueOptions: the queue flags of send, receive, qprocessor and declare', () => {
  it('turns the flags into what the commands take', () => {
    expect(queueOptions({})).toEqual({ durability: 'unspecified', queueType: undefined });
    expect(queueOptions({ durable: true, queueType: 'quorum' })).toEqual({
      durability: 'durable',
      queueType: 'quorum',
    });
    expect(queueOptions({ durable: false, queueType: 'classic' })).toEqual({
      durability: 'non-durable',
      queueType: 'classic',
    });
  });

  it.each(['quorum', 'stream'] as const)('refuses --no-durable with --queue-type %s in one line', (type) => {
    const error = usageError(() => queueOptions({ durable: false, queueType: type }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      `--no-durable cannot go with --queue-type ${type}: ${type} queues are always durable (leave out --no-durable, or use --queue-type classic)`,
    );
    expect(error.hint).toBeUndefined();
  });

  it('refuses a stream consumer the broker would not serve, naming the missing flags', () => {
    const auto = usageError(() =>
      queueOptions({ queueType: 'stream' }, { manualAck: false, prefetch: undefined }),
    );
    expect(auto.message).toMatch(/^reading a stream needs --acknowledge and --prefetch n: /);
    const noWindow = usageError(() =>
      checkStreamConsumer('stream', { manualAck: true, prefetch: undefined }),
    );
    expect(noWindow.message).toMatch(/^reading a stream needs --prefetch n: /);
    expect(() => checkStreamConsumer('stream', { manualAck: true, prefetch: 10 })).not.toThrow();
    expect(() => checkStreamConsumer('quorum', { manualAck: false, prefetch: undefined })).not.toThrow();
    expect(() => checkStreamConsumer(undefined, { manualAck: false, prefetch: undefined })).not.toThrow();
  });
});

describe('deliveryCountOf', () => {
  const message = (headers: Record<string, unknown> | undefined) => ({ properties: { headers } }) as never;

  it("reads a quorum queue's x-delivery-count, and nothing else", () => {
    expect(deliveryCountOf(message({ 'x-delivery-count': 3 }))).toBe(3);
    expect(deliveryCountOf(message({ 'x-delivery-count': 2n }))).toBe(2);
    expect(deliveryCountOf(message({}))).toBeNull();
    expect(deliveryCountOf(message(undefined))).toBeNull();
    expect(deliveryCountOf(message({ 'x-delivery-count': 'three' }))).toBeNull();
    expect(deliveryCountOf(message({ 'x-delivery-count': -1 }))).toBeNull();
  });

  it('adds deliveryCount to a JSON record only when there is one', () => {
    expect(deliveryCountField(message({ 'x-delivery-count': 1 }))).toEqual({ deliveryCount: 1 });
    expect(deliveryCountField(message({}))).toEqual({});
  });
});

describe("qprocessor's report of x-delivery-count", () => {
  const delivery = (deliveryCount: number | null): DeliveryInfo => ({
    body: Buffer.from('job'),
    redelivered: deliveryCount !== null,
    deliveryTag: 7,
    deliveryCount,
  });
  const reporter = (json: boolean) => {
    const stdout = new PassThrough();
    const report = createWorkerReporter({
      name: 'w',
      json,
      style: createStyle(0),
      stdout,
      stderr: new PassThrough(),
      now: () => new Date('2026-01-02T03:04:05.678Z'),
    });
    return { report, output: () => String(stdout.read() ?? '') };
  };

  it('marks a counted redelivery in the human lines', () => {
    const { report, output } = reporter(false);
    report.received(delivery(2), 1000);
    report.lost(delivery(3), 4, 'requeue');
    report.received(delivery(null), 1000);
    const [received, lost, plain] = output().trim().split('\n');
    expect(received).toMatch(/received {2}"job" \(redelivered, x-delivery-count 2\) 1\.0 s of work$/);
    expect(lost).toMatch(/"job" \(redelivered, x-delivery-count 3\) \(delivery 4\) requeued/);
    expect(plain).not.toMatch(/redelivered|x-delivery-count/);
  });

  it('puts deliveryCount in JSON events only when the broker sent one', () => {
    const { report, output } = reporter(true);
    report.received(delivery(2), 0);
    report.received(delivery(null), 0);
    const [counted, plain] = output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(counted).toMatchObject({ event: 'received', redelivered: true, deliveryCount: 2 });
    expect(plain).not.toHaveProperty('deliveryCount');
  });
});

describe('deliveryLimitNotice', () => {
  const rabbit = (version: string) => ({ product: 'RabbitMQ', version });

  it('reads RabbitMQ versions, and only those', () => {
    expect(rabbitmqVersion(rabbit('4.3.0-rc.1'))).toEqual({ major: 4, minor: 3 });
    expect(rabbitmqVersion({ product: 'LavinMQ', version: '2.1.0' })).toBeNull();
    expect(rabbitmqVersion({ product: 'RabbitMQ', version: null })).toBeNull();
  });

  it('3.x: no limit unless one is set', () => {
    const notice = deliveryLimitNotice('jobs', rabbit('3.10.8'));
    expect(notice).toMatch(/^'jobs' is a quorum queue: RabbitMQ 3\.10\.8 sets no delivery limit by default/);
    expect(notice).not.toMatch(/20/);
  });

  it.each(['4.0.9', '4.2.1'])('%s: 20 returns, nacks included', (version) => {
    const notice = deliveryLimitNotice('jobs', rabbit(version));
    expect(notice).toContain(`RabbitMQ ${version} returns a message to it at most 20 times by default`);
    expect(notice).toContain('a nack with requeue');
    expect(notice).toMatch(/dead-letters it if the queue has a dead-letter exchange/);
    expect(notice).toMatch(/x-delivery-limit or a delivery-limit policy may set another limit/);
  });

  it.each(['4.3.0', '5.0.0'])('%s: 20 failed deliveries, nacks not counted', (version) => {
    const notice = deliveryLimitNotice('jobs', rabbit(version));
    expect(notice).toContain('at most 20 failed deliveries by default');
    expect(notice).toContain('a nack with requeue, as --on-lose requeue sends, does not count');
  });

  it('another broker: says what RabbitMQ does, without claiming it for this one', () => {
    expect(deliveryLimitNotice('jobs', { product: null, version: null })).toMatch(
      /the broker may drop or dead-letter a message that keeps coming back \(RabbitMQ 4\.0 and later/,
    );
  });
});
