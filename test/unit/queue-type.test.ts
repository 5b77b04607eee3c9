import { describe, expect, it } from 'vitest';
import { explainAmqpError } from '../../src/amqp/explain.js';
import { parseExistingValue } from '../../src/amqp/inequivalent-arg.js';
import {
  afterAcceptance,
  afterRefusal,
  FIRST_PROBE,
  fieldValue,
  type ProbeDeclaration,
  queueMismatch,
  UNKNOWN_QUEUE,
} from '../../src/amqp/queue-type.js';

/** RabbitMQ's refusal text, as 3.10 and 4.x write it. */
const refusal = (argument: string, received: string, current: string) =>
  `inequivalent arg '${argument}' for queue 'jobs' in vhost '/': received ${received} but current is ${current}`;

describe('afterRefusal: learning a queue by declaring it again', () => {
  it('a durability refusal means a non-durable queue, which only a classic queue can be', () => {
    expect(afterRefusal(FIRST_PROBE, refusal('durable', "'true'", "'false'"))).toEqual({
      kind: 'found',
      inspection: { durability: 'non-durable', type: 'classic' },
    });
  });

  it.each([
    ['3.10', "'classic'", "'quorum'", 'quorum'],
    ['3.10', "'classic'", "'stream'", 'stream'],
    ['4.x', "the value 'classic' of type 'longstr'", "the value 'quorum' of type 'longstr'", 'quorum'],
    ['4.x', "the value 'classic' of type 'longstr'", "the value 'stream' of type 'longstr'", 'stream'],
  ])('reads the type from RabbitMQ %s wording (%s vs %s)', (_version, received, current, type) => {
    expect(afterRefusal(FIRST_PROBE, refusal('x-queue-type', received, current))).toEqual({
      kind: 'found',
      inspection: { durability: 'always-persistent', type },
    });
  });

  it('a queue without x-queue-type is classic', () => {
    expect(afterRefusal(FIRST_PROBE, refusal('x-queue-type', "'classic'", 'none'))).toEqual({
      kind: 'found',
      inspection: { durability: 'durable', type: 'classic' },
    });
  });

  it("takes over an argument the broker compares before the type, with the queue's value", () => {
    const step = afterRefusal(FIRST_PROBE, refusal('x-max-length', 'none', "the value '10' of type 'byte'"));
    expect(step).toEqual({
      kind: 'retry',
      declaration: { autoDelete: false, arguments: { 'x-queue-type': 'classic', 'x-max-length': 10 } },
    });
    // Taken over already and refused again: no loop.
    const again = (step as { declaration: ProbeDeclaration }).declaration;
    expect(afterRefusal(again, refusal('x-max-length', "the value '10' of type 'byte'", "'11'")).kind).toBe(
      'unknown',
    );
  });

  it('takes over auto_delete once', () => {
    const step = afterRefusal(FIRST_PROBE, refusal('auto_delete', "'false'", "'true'"));
    expect(step).toEqual({ kind: 'retry', declaration: { ...FIRST_PROBE, autoDelete: true } });
    const again = (step as { declaration: ProbeDeclaration }).declaration;
    expect(afterRefusal(again, refusal('auto_delete', "'true'", "'false'")).kind).toBe('unknown');
  });

  it('gives up on values it cannot rebuild and on other refusals', () => {
    expect(afterRefusal(FIRST_PROBE, refusal('x-args', 'none', "the value '[]' of type 'array'")).kind).toBe(
      'unknown',
    );
    expect(afterRefusal(FIRST_PROBE, refusal('x-queue-type', "'classic'", "'mystery'")).kind).toBe('unknown');
    expect(afterRefusal(FIRST_PROBE, "invalid arg 'x-max-length' for queue 'jobs'").kind).toBe('unknown');
  });

  it('an accepted guess is the queue', () => {
    expect(afterAcceptance(FIRST_PROBE)).toEqual({ durability: 'durable', type: 'classic' });
    expect(afterAcceptance({ autoDelete: false, arguments: {} })).toEqual(UNKNOWN_QUEUE);
  });
});

describe('fieldValue', () => {
  it('rebuilds values of the same type class the broker compares', () => {
    expect(fieldValue('10', 'long')).toBe(10);
    expect(fieldValue('60000', 'signedint')).toBe(60000);
    expect(fieldValue('jobs-dead', 'longstr')).toBe('jobs-dead');
    expect(fieldValue('', 'longstr')).toBe('');
    expect(fieldValue('true', 'bool')).toBe(true);
    expect(fieldValue('1.0', 'double')).toEqual({ '!': 'double', value: 1 });
    expect(fieldValue('1.5', 'byte')).toBeUndefined();
    expect(fieldValue('x', 'table')).toBeUndefined();
    expect(fieldValue(null, 'long')).toBeUndefined();
  });

  it('is fed by the typed existing value of a refusal', () => {
    expect(parseExistingValue(refusal('x-message-ttl', 'none', "the value '5000' of type 'long'"))).toEqual({
      argument: 'x-message-ttl',
      value: '5000',
      amqpType: 'long',
    });
  });
});

describe('queueMismatch', () => {
  const quorum = { durability: 'always-persistent', type: 'quorum' } as const;
  const nonDurable = { durability: 'non-durable', type: 'classic' } as const;

  it('names the existing type, the asked one, and both fixes', () => {
    const error = queueMismatch('my q', { durability: 'unspecified', type: 'classic' }, quorum);
    expect(error?.message).toBe(
      "queue 'my q' already exists as a quorum queue, but --queue-type classic was asked for",
    );
    expect(error?.hint).toMatch(/406 PRECONDITION_FAILED, inequivalent arg 'x-queue-type'/);
    expect(error?.hint).toMatch(/Leave out --queue-type to use the queue as it is/);
    expect(error?.hint).toContain("qtool delete --queue 'my q' --force");
    expect(error?.exitCode).toBe(1);
  });

  it('puts the type first when a non-durable classic queue is asked to be quorum', () => {
    expect(queueMismatch('q', { durability: 'durable', type: 'quorum' }, nonDurable)?.message).toBe(
      "queue 'q' already exists as a non-durable classic queue, but --queue-type quorum was asked for",
    );
  });

  it('keeps the durability conflicts', () => {
    expect(queueMismatch('q', { durability: 'durable', type: undefined }, nonDurable)?.message).toBe(
      "queue 'q' already exists as a non-durable queue, but --durable was asked for",
    );
    expect(queueMismatch('q', { durability: 'non-durable', type: undefined }, quorum)?.message).toBe(
      "queue 'q' already exists as a durable quorum queue, but --no-durable was asked for",
    );
  });

  it('accepts what matches, and what it could not find out', () => {
    expect(queueMismatch('q', { durability: 'durable', type: 'quorum' }, quorum)).toBeNull();
    expect(queueMismatch('q', { durability: 'unspecified', type: 'classic' }, nonDurable)).toBeNull();
    expect(queueMismatch('q', { durability: 'durable', type: 'stream' }, UNKNOWN_QUEUE)).toBeNull();
  });
});

describe("explaining the broker's refusal of a stream consumer", () => {
  const context = { hostname: 'rabbit', port: 5672, vhost: '/', username: 'guest' };
  it.each([
    [
      "Operation failed: BasicConsume; 406 (PRECONDITION-FAILED) with message \"PRECONDITION_FAILED - consumer prefetch count is not set for 'queue 'events' in vhost '/''\"",
    ],
    [
      "Connection closed: 540 (NOT-IMPLEMENTED) with message \"NOT_IMPLEMENTED - automatic acknowledgement not supported by stream queues queue 'events' in vhost '/'\"",
    ],
  ])('%s', (raw) => {
    const error = explainAmqpError(new Error(raw), context);
    expect(error.message).toBe(
      "queue 'events' is a stream: RabbitMQ serves a stream only to consumers with manual acks and a prefetch limit",
    );
    expect(error.hint).toMatch(/--acknowledge --prefetch n/);
  });
});
