import { describe, expect, it } from 'vitest';
import { parseInequivalentArg } from '../../src/amqp/inequivalent-arg.js';
import {
  type DeclareRequest,
  decideDelete,
  describeDeclaration,
  explainDeclareConflict,
  explainDeleteRefusal,
  explainUnsupported,
  planDeclare,
} from '../../src/commands/queue-admin.js';
import { UsageError } from '../../src/errors.js';

const request = (overrides: Partial<DeclareRequest> = {}): DeclareRequest => ({
  queue: 'jobs',
  durable: true,
  type: undefined,
  maxLength: undefined,
  messageTtlMs: undefined,
  deadLetterQueue: undefined,
  ...overrides,
});

describe('planDeclare', () => {
  it('sends no arguments for a plain durable queue', () => {
    expect(planDeclare(request())).toEqual({
      queue: { name: 'jobs', type: undefined, durable: true, arguments: {} },
      deadLetterQueue: null,
    });
  });

  it('builds the argument table from every option, and a durable dead-letter queue of the same type', () => {
    const plan = planDeclare(
      request({ type: 'quorum', maxLength: 0, messageTtlMs: 60_000, deadLetterQueue: 'jobs-dead' }),
    );
    expect(plan.queue.arguments).toEqual({
      'x-queue-type': 'quorum',
      'x-max-length': 0,
      'x-message-ttl': 60_000,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'jobs-dead',
    });
    expect(plan.deadLetterQueue).toEqual({
      name: 'jobs-dead',
      type: 'quorum',
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
  });

  it('makes the dead-letter queue durable even when the queue is not', () => {
    const plan = planDeclare(request({ durable: false, deadLetterQueue: 'dead' }));
    expect(plan.queue.durable).toBe(false);
    expect(plan.deadLetterQueue?.durable).toBe(true);
  });

  it.each(['quorum', 'stream'] as const)('refuses a non-durable %s queue as a usage error', (type) => {
    expect(() => planDeclare(request({ type, durable: false }))).toThrow(UsageError);
    expect(() => planDeclare(request({ type, durable: false }))).toThrow(/always durable/);
  });

  it('refuses the options streams do not support, naming each', () => {
    const plan = () => planDeclare(request({ type: 'stream', maxLength: 5, messageTtlMs: 10 }));
    expect(plan).toThrow(UsageError);
    expect(plan).toThrow('stream queues do not support --max-length, --message-ttl');
    expect(planDeclare(request({ type: 'stream' })).queue.arguments).toEqual({ 'x-queue-type': 'stream' });
  });

  it('refuses a queue as its own dead-letter queue', () => {
    expect(() => planDeclare(request({ deadLetterQueue: 'jobs' }))).toThrow(UsageError);
  });
});

describe('describeDeclaration', () => {
  it('lists what was declared', () => {
    const plan = planDeclare(
      request({ type: 'classic', maxLength: 3, messageTtlMs: 500, deadLetterQueue: 'dead' }),
    );
    expect(describeDeclaration(plan.queue)).toBe(
      "durable, classic, max-length 3, message-ttl 500 ms, dead-letter-queue 'dead'",
    );
    expect(describeDeclaration(planDeclare(request({ durable: false })).queue)).toBe('non-durable');
  });
});

describe('decideDelete', () => {
  const plain = { force: false, ifUnused: false, ifEmpty: false };

  it('deletes an idle, empty queue without conditions', () => {
    expect(decideDelete('q', { messageCount: 0, consumerCount: 0 }, plain)).toEqual({
      kind: 'delete',
      conditions: { ifUnused: false, ifEmpty: false },
    });
  });

  it('refuses a queue with consumers and messages, counting both and naming the way out', () => {
    const decision = decideDelete('q', { messageCount: 5, consumerCount: 2 }, plain);
    expect(decision.kind).toBe('refuse');
    if (decision.kind !== 'refuse') return;
    expect(decision.error.message).toBe("queue 'q' has 2 consumers and 5 messages ready: not deleting it");
    expect(decision.error.hint).toMatch(/end its 2 consumers and discard its 5 messages/);
    expect(decision.error.hint).toMatch(/--force/);
    expect(decision.error.exitCode).toBe(1);
  });

  it('refuses a queue with only a consumer, or only a message', () => {
    const consumer = decideDelete('q', { messageCount: 0, consumerCount: 1 }, plain);
    expect(consumer.kind === 'refuse' && consumer.error.message).toBe(
      "queue 'q' has 1 consumer: not deleting it",
    );
    const message = decideDelete('q', { messageCount: 1, consumerCount: 0 }, plain);
    expect(message.kind === 'refuse' && message.error.message).toBe(
      "queue 'q' has 1 message ready: not deleting it",
    );
  });

  it('deletes anyway with --force, and hands --if-unused / --if-empty to the broker', () => {
    const busy = { messageCount: 5, consumerCount: 2 };
    expect(decideDelete('q', busy, { ...plain, force: true }).kind).toBe('delete');
    expect(decideDelete('q', busy, { ...plain, force: true, ifUnused: true })).toEqual({
      kind: 'delete',
      conditions: { ifUnused: true, ifEmpty: false },
    });
    expect(decideDelete('q', { messageCount: 0, consumerCount: 0 }, { ...plain, ifEmpty: true })).toEqual({
      kind: 'delete',
      conditions: { ifUnused: false, ifEmpty: true },
    });
  });

  it('never lets --if-unused or --if-empty through what it refuses without them', () => {
    // if-empty ignores unacked messages: alone, it would delete a queue whose workers are busy.
    const working = { messageCount: 0, consumerCount: 2 };
    expect(decideDelete('q', working, { ...plain, ifEmpty: true }).kind).toBe('refuse');
    const unusedWithMessages = { messageCount: 2, consumerCount: 0 };
    expect(decideDelete('q', unusedWithMessages, { ...plain, ifUnused: true }).kind).toBe('refuse');
  });
});

describe('explainDeleteRefusal', () => {
  const figures = { messageCount: 3, consumerCount: 1 };

  it('explains the broker refusing --if-unused and --if-empty', () => {
    const inUse = explainDeleteRefusal(
      'q',
      { replyCode: 406, text: "queue 'q' in vhost '/' in use" },
      figures,
    );
    expect(inUse?.message).toMatch(/it is in use \(1 consumer\), and --if-unused/);
    const notEmpty = explainDeleteRefusal(
      'q',
      { replyCode: 406, text: "queue 'q' in vhost '/' not empty" },
      figures,
    );
    expect(notEmpty?.message).toMatch(/it is not empty \(3 messages\), and --if-empty/);
  });

  it('leaves other errors alone', () => {
    expect(explainDeleteRefusal('q', null, figures)).toBeNull();
    expect(explainDeleteRefusal('q', { replyCode: 404, text: 'no queue' }, figures)).toBeNull();
  });
});

describe('explainUnsupported', () => {
  it('names the queue type that refuses the operation', () => {
    const error = explainUnsupported('s', 'purging', {
      replyCode: 540,
      text: "queue.purge not supported by stream queues queue 's' in vhost '/'",
    });
    expect(error?.message).toBe("queue 's' is a stream queue, and stream queues do not support purging");
    expect(explainUnsupported('s', 'purging', { replyCode: 406, text: 'x' })).toBeNull();
  });
});

describe('parseInequivalentArg', () => {
  it('reads typed, quoted and missing values', () => {
    expect(
      parseInequivalentArg(
        "inequivalent arg 'x-max-length' for queue 'a' in vhost '/': received the value '10' of type 'byte' but current is none",
      ),
    ).toEqual({ argument: 'x-max-length', asked: '10', existing: null });
    expect(
      parseInequivalentArg(
        "inequivalent arg 'durable' for queue 'a' in vhost '/': received 'false' but current is 'true'",
      ),
    ).toEqual({ argument: 'durable', asked: 'false', existing: 'true' });
    expect(
      parseInequivalentArg(
        "inequivalent arg 'x-dead-letter-exchange' for queue 'b' in vhost '/': received none but current is the value '' of type 'longstr'",
      ),
    ).toEqual({ argument: 'x-dead-letter-exchange', asked: null, existing: '' });
    expect(parseInequivalentArg("queue 'a' in vhost '/' in use")).toBeNull();
  });
});

describe('explainDeclareConflict', () => {
  it('says which setting differs, what exists, what was asked and how to fix it', () => {
    const error = explainDeclareConflict('jobs', {
      replyCode: 406,
      text: "inequivalent arg 'x-message-ttl' for queue 'jobs' in vhost '/': received '6000' but current is '5000'",
    });
    expect(error?.message).toBe(
      "queue 'jobs' already exists with a different message TTL (x-message-ttl): it has message TTL 5000 ms, but this declare asked for message TTL 6000 ms",
    );
    expect(error?.hint).toMatch(/--message-ttl/);
    expect(error?.hint).toMatch(/qtool delete --queue jobs --force/);
  });

  it('words durability and type as a person would', () => {
    const durable = explainDeclareConflict('q', {
      replyCode: 406,
      text: "inequivalent arg 'durable' for queue 'q' in vhost '/': received 'false' but current is 'true'",
    });
    expect(durable?.message).toMatch(
      /it is a durable queue, but this declare asked for a non-durable queue$/,
    );
    const type = explainDeclareConflict('my q', {
      replyCode: 406,
      text: "inequivalent arg 'x-queue-type' for queue 'my q' in vhost '/': received the value 'quorum' of type 'longstr' but current is none",
    });
    expect(type?.message).toMatch(
      /it is a queue of the default type .*, but this declare asked for a quorum queue$/,
    );
    expect(type?.hint).toContain("qtool delete --queue 'my q' --force");
  });

  it('falls back to the raw argument name, and leaves other errors alone', () => {
    const other = explainDeclareConflict('q', {
      replyCode: 406,
      text: "inequivalent arg 'x-max-length-bytes' for queue 'q' in vhost '/': received none but current is the value '100' of type 'long'",
    });
    expect(other?.message).toMatch(
      /it has x-max-length-bytes '100', but this declare asked for no x-max-length-bytes/,
    );
    expect(explainDeclareConflict('q', { replyCode: 406, text: 'invalid arg' })).toBeNull();
    expect(explainDeclareConflict('q', null)).toBeNull();
  });
});
