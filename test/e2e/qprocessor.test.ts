import { describe, expect, it } from 'vitest';
import { drain, eventually, queueState } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { interruptTwice, jsonLines, type RunningCli, runCli, startCli } from '../support/cli.js';

const broker = testBroker();
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal colour codes are what we look for
const ANSI_COLOUR = /\x1b\[\d+m/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape codes are what we look for
const ANSI_ESCAPE = /\x1b\[/;
const env = { AMQP_URL: broker.amqpUrl };

interface WorkerEvent {
  event: 'received' | 'processed' | 'lost' | 'acked' | 'requeued';
  worker: string;
  body: string;
  redelivered: boolean;
  deliveryTag: number;
  ts: string;
}

/** Starts a worker and waits until its consumer is registered with the broker. */
async function startWorker(
  queue: string,
  name: string,
  extra: string[] = [],
  workerEnv = env,
): Promise<RunningCli> {
  const worker = startCli(['qprocessor', '--queue', queue, '--name', name, '--json', ...extra], {
    env: workerEnv,
  });
  await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
  return worker;
}

const events = (worker: RunningCli) => jsonLines<WorkerEvent>(worker.stdout());
const bodiesOf = (worker: RunningCli, event: WorkerEvent['event']) =>
  events(worker)
    .filter((e) => e.event === event)
    .map((e) => e.body);

/** A worker with acks that loses every second message in the given way. */
const losingEverySecond = (onLose: 'crash' | 'hang') => [
  '--acknowledge',
  '--delay-per-char',
  '0',
  '--lose-every',
  '2',
  '--on-lose',
  onLose,
];

async function send(queue: string, ...messages: string[]): Promise<void> {
  const result = await runCli(['send', '--queue', queue, ...messages], { env });
  expect(result.exitCode, result.stderr).toBe(0);
}

async function stop(worker: RunningCli) {
  worker.signal('SIGINT');
  return worker.finished();
}

describe('qprocessor', () => {
  it.each([2, 3])('shares messages round robin between %i workers without prefetch', async (count) => {
    const queue = uniqueName('rr');
    const workers: RunningCli[] = [];
    for (let i = 0; i < count; i++)
      workers.push(await startWorker(queue, `w${i}`, ['--delay-per-char', '0']));
    const messages = Array.from({ length: count * 3 }, (_, i) => `m${i}`);
    await send(queue, ...messages);
    await eventually(
      () => workers.reduce((sum, w) => sum + bodiesOf(w, 'processed').length, 0) === messages.length,
      'all messages processed',
    );
    const shares = workers.map((w) => bodiesOf(w, 'processed'));
    // Round robin: each worker gets every count-th message, whatever it is.
    for (const share of shares) expect(share).toHaveLength(3);
    expect(shares.flat().sort()).toEqual([...messages].sort());
    for (const share of shares) {
      const positions = share.map((body) => Number(body.slice(1)));
      expect(new Set(positions.map((p) => p % count)).size).toBe(1);
    }
    await Promise.all(workers.map(stop));
  });

  it('with --prefetch 1 dispatches fairly: a long message does not hold back the short ones', async () => {
    const queue = uniqueName('fair');
    const options = ['--acknowledge', '--prefetch', '1', '--delay-per-char', '0.1'];
    const workers = [
      await startWorker(queue, 'a', options),
      await startWorker(queue, 'b', options),
      await startWorker(queue, 'c', options),
    ];
    const long = 'L'.repeat(40); // 4 s of work
    const shorts = Array.from({ length: 8 }, (_, i) => `s${i}`); // 0.2 s each
    await send(queue, long, ...shorts);
    await eventually(
      () => workers.reduce((sum, w) => sum + bodiesOf(w, 'processed').length, 0) === 1 + shorts.length,
      'all messages processed',
      20_000,
    );
    const busy = workers.find((w) => bodiesOf(w, 'processed').includes(long));
    expect(busy).toBeDefined();
    // The worker on the long job took nothing else; the other two shared all the short ones.
    expect(bodiesOf(busy as RunningCli, 'received')).toEqual([long]);
    await Promise.all(workers.map(stop));
  });

  it('without prefetch, round robin queues short messages behind the long one', async () => {
    const queue = uniqueName('unfair');
    const options = ['--acknowledge', '--delay-per-char', '0.1'];
    const workers = [await startWorker(queue, 'a', options), await startWorker(queue, 'b', options)];
    const long = 'L'.repeat(20);
    await send(queue, long, 's1', 's2', 's3', 's4');
    await eventually(
      () => workers.reduce((sum, w) => sum + bodiesOf(w, 'processed').length, 0) === 5,
      'all processed',
    );
    const busy = workers.find((w) => bodiesOf(w, 'processed').includes(long)) as RunningCli;
    expect(bodiesOf(busy, 'processed')).toEqual([long, 's2', 's4']);
    await Promise.all(workers.map(stop));
  });

  it('--lose-every with auto-ack loses those messages for good', async () => {
    const queue = uniqueName('lose');
    const worker = await startWorker(queue, 'loser', ['--delay-per-char', '0', '--lose-every', '3']);
    await send(queue, 'a', 'b', 'c', 'd', 'e', 'f');
    await eventually(() => events(worker).filter((e) => e.event !== 'received').length === 6, 'six outcomes');
    expect(bodiesOf(worker, 'processed')).toEqual(['a', 'b', 'd', 'e']);
    expect(bodiesOf(worker, 'lost')).toEqual(['c', 'f']);
    const result = await stop(worker);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/stopped: 6 messages received, 4 processed, 2 lost/);
    expect((await queueState(broker.amqpUrl, queue))?.messageCount).toBe(0);
  });

  it('--lose-every with --acknowledge requeues, so every message is processed in the end', async () => {
    const queue = uniqueName('requeue');
    const worker = await startWorker(queue, 'w', [
      '--acknowledge',
      '--delay-per-char',
      '0',
      '--lose-every',
      '3',
    ]);
    const messages = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    await send(queue, ...messages);
    await eventually(
      () => bodiesOf(worker, 'processed').length === messages.length,
      'every message processed',
    );
    expect(bodiesOf(worker, 'processed').sort()).toEqual(messages);
    expect(bodiesOf(worker, 'requeued')).toEqual(bodiesOf(worker, 'lost'));
    expect(bodiesOf(worker, 'lost').length).toBeGreaterThan(0);
    // What was requeued came back marked as redelivered.
    const redelivered = events(worker).filter((e) => e.event === 'received' && e.redelivered);
    expect(redelivered.length).toBeGreaterThan(0);
    await stop(worker);
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 0,
      'queue empty',
    );
  });

  it('--on-lose crash exits 3 at once, and the broker redelivers everything not acked', async () => {
    const queue = uniqueName('crash');
    const worker = await startWorker(queue, 'crasher', losingEverySecond('crash'));
    await send(queue, 'one', 'two', 'three', 'four');
    const result = await worker.finished();
    expect(result.exitCode).toBe(3);
    expect(bodiesOf(worker, 'acked')).toEqual(['one']);
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 3,
      'three back in queue',
    );
    const received = await runCli(['receive', '--queue', queue, '--json', '--count', '3'], { env });
    const records = jsonLines<{ body: string; redelivered: boolean }>(received.stdout);
    expect(records.map((r) => r.body).sort()).toEqual(['four', 'three', 'two']);
    expect(records.find((r) => r.body === 'two')?.redelivered).toBe(true);
  });

  it('--on-lose hang keeps the message unacked until the worker stops', async () => {
    const queue = uniqueName('hang');
    const worker = await startWorker(queue, 'hanger', losingEverySecond('hang'));
    await send(queue, 'p', 'q', 'r');
    await eventually(() => events(worker).filter((e) => e.event === 'acked').length === 2, 'two acked');
    expect(bodiesOf(worker, 'lost')).toEqual(['q']);
    // Nothing ready: the hung one is unacked, held by the worker.
    expect((await queueState(broker.amqpUrl, queue))?.messageCount).toBe(0);
    expect((await stop(worker)).exitCode).toBe(0);
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 1,
      'hung message back',
    );
    expect(await drain(broker.amqpUrl, queue)).toEqual(['q']);
  });

  it('emits one JSON event per line with the documented fields and nothing else on stdout', async () => {
    const queue = uniqueName('json');
    const worker = await startWorker(queue, 'jay', ['--acknowledge', '--delay-per-char', '0']);
    await send(queue, 'hi');
    await eventually(() => bodiesOf(worker, 'acked').length === 1, 'acked');
    const [received, processed, acked] = events(worker);
    expect(received).toMatchObject({ event: 'received', worker: 'jay', body: 'hi', redelivered: false });
    expect(Object.keys(received as WorkerEvent).sort()).toEqual(
      ['body', 'deliveryTag', 'event', 'redelivered', 'ts', 'worker'].sort(),
    );
    expect(processed?.event).toBe('processed');
    expect(acked?.event).toBe('acked');
    expect(Number.isNaN(Date.parse(String(received?.ts)))).toBe(false);
    await stop(worker);
    expect(worker.stdout()).not.toMatch(ANSI_ESCAPE);
  });

  it('on Ctrl-C finishes and acks the message in hand, then prints its tally and exits 0', async () => {
    const queue = uniqueName('graceful');
    // 5 s of work: the Ctrl-C must land while it is in hand, even on a busy machine.
    const worker = await startWorker(queue, 'g', ['--acknowledge', '--delay-per-char', '1']);
    await send(queue, 'abcde', 'waiting');
    await worker.waitFor(/"event":"received"/);
    worker.signal('SIGINT');
    const result = await worker.finished();
    expect(result.exitCode).toBe(0);
    expect(bodiesOf(worker, 'acked')).toEqual(['abcde']);
    expect(result.stderr).toMatch(/stopped: 1 message received, 1 processed, 0 lost, 0 redelivered seen/);
    // The one it had not started goes back to the queue.
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 1,
      'rest requeued',
    );
  });

  it('exits at once on a second Ctrl-C, leaving the unacked message to the broker', async () => {
    const queue = uniqueName('twice');
    const worker = await startWorker(queue, 't', ['--acknowledge', '--delay-per-char', '60']);
    await send(queue, 'slow');
    await worker.waitFor(/"event":"received"/);
    const result = await interruptTwice(worker, 10_000);
    expect(result.exitCode).toBe(130);
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 1,
      'message back',
    );
  });

  it('warns before work that would outlast the consumer timeout', async () => {
    const queue = uniqueName('timeout');
    const worker = await startWorker(queue, 'slow', ['--acknowledge', '--delay-per-char', '1000']);
    await send(queue, 'abc'); // 50 minutes
    await worker.waitFor(/outlasts the broker's consumer timeout/, { stream: 'stderr' });
    await interruptTwice(worker);
  });

  it('colours each worker in a terminal colour when asked, never with NO_COLOR', async () => {
    const queue = uniqueName('colour');
    const coloured = startCli(['qprocessor', '--queue', queue, '--name', 'red', '--delay-per-char', '0'], {
      env: { ...env, FORCE_COLOR: '1', NO_COLOR: undefined },
    });
    await coloured.waitFor(/waiting for messages/, { stream: 'stderr' });
    const plain = startCli(['qprocessor', '--queue', queue, '--name', 'plain', '--delay-per-char', '0'], {
      env,
    });
    await plain.waitFor(/waiting for messages/, { stream: 'stderr' });
    await send(queue, 'x1', 'x2');
    await coloured.waitFor(/processed/);
    await plain.waitFor(/processed/);
    expect(coloured.stdout()).toMatch(ANSI_COLOUR);
    expect(plain.stdout()).not.toMatch(ANSI_ESCAPE);
    expect(plain.stdout()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} plain received +"x\d"/m);
    await Promise.all([stop(coloured), stop(plain)]);
  });

  it('keeps heartbeats flowing during long asynchronous work', async () => {
    const queue = uniqueName('hb-ok');
    const worker = await startWorker(queue, 'hb', [
      '--acknowledge',
      '--heartbeat',
      '1',
      '--delay-per-char',
      '1',
    ]);
    await send(queue, 'abcde'); // 5 s of work with a 1 s heartbeat
    await eventually(() => bodiesOf(worker, 'acked').length === 1, 'acked after 5 s', 20_000);
    expect((await stop(worker)).exitCode).toBe(0);
  });

  it('with --block loses the connection to a heartbeat time-out and says so plainly', async () => {
    const queue = uniqueName('hb-block');
    const worker = await startWorker(queue, 'blocker', [
      '--acknowledge',
      '--no-reconnect',
      '--heartbeat',
      '1',
      '--block',
      '--delay-per-char',
      '1',
    ]);
    await send(queue, 'abcdefgh'); // 8 s of busy waiting
    const result = await worker.finished(30_000);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/blocked for .* without sending heartbeats/);
    expect(result.stderr).toMatch(
      /The message in hand was not acknowledged, so the broker puts it back in the queue and delivers it again\./,
    );
    expect(result.stderr).toMatch(/stopped: 1 message received, 0 processed, 0 lost, 1 left unacknowledged/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(bodiesOf(worker, 'acked')).toEqual([]);
    // Not acked, so the broker kept it.
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 1,
      'redelivered',
    );
  });
});
