import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Options } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, publishTo, readyCount, takeMessages, withChannel } from '../support/amqp.js';
import { closeConnectionsOf, testBroker, uniqueName } from '../support/broker.js';
import { isRunning, runCli, startWorker as startJobWorker } from '../support/cli.js';

/**
 * What a job worker does when the broker refuses what it publishes for a job (a reply, a copy),
 * and what it says about the jobs it stops when it exits on an error.
 */
const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'qtool-jobs-refusal-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

async function refusingQueue(): Promise<string> {
  const name = uniqueName('refusing-replies');
  await withChannel(broker.amqpUrl, (channel) =>
    channel.assertQueue(name, {
      durable: false,
      arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
    }),
  );
  return name;
}

const startWorker = (queue: string, name: string, extra: string[]) => startJobWorker(env, queue, name, extra);
const publish = (queue: string, body: string, options: Options.Publish = {}) =>
  publishTo(broker.amqpUrl, queue, body, options);
const takeAll = (queue: string) => takeMessages(broker.amqpUrl, queue);
const ready = (queue: string) => readyCount(broker.amqpUrl, queue);
const lines = async (file: string) =>
  (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
describe('qprocessor --exec when the broker refuses a reply', () => {
  it('a refused reply to a successful job counts as a failed attempt: retried, then kept in .failed, never a hot loop', async () => {
    const queue = uniqueName('refused-ok');
    const replies = await refusingQueue();
    const runs = join(folder, `${queue}.runs`);
    const worker = await startWorker(queue, 'refused', [
      '--acknowledge',
      '--retries',
      '1',
      '--retry-delay',
      '0',
      '--exec',
      `echo run >> ${runs}; echo the-result`,
    ]);
    await publish(queue, 'job', { messageId: 'r-1', replyTo: replies });
    await eventually(async () => (await ready(`${queue}.failed`)) === 1, 'the job kept in .failed');
    // A hot loop would have run it dozens of times by now.
    await sleep(1_500);
    expect(await lines(runs)).toEqual(['run', 'run']);
    worker.signal('SIGINT');
    const result = await worker.finished();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/FAILED {4}"job" r-1 reply refused: .* retry 1 of 1/);
    expect(await ready(queue)).toBe(0);
    const [failed, ...more] = await takeAll(`${queue}.failed`);
    expect(more).toHaveLength(0);
    expect(String(failed?.properties.headers?.['x-qtool-failure-reason'])).toMatch(/^reply refused: /);
    expect(failed?.properties.headers?.['x-qtool-attempts']).toBe(2);
  });

  it('a refused reply to a failed job whose .failed copy is confirmed: acked, with a warning', async () => {
    const queue = uniqueName('refused-failed');
    const replies = await refusingQueue();
    const runs = join(folder, `${queue}.runs`);
    const worker = await startWorker(queue, 'refused2', [
      '--acknowledge',
      '--exec',
      `echo run >> ${runs}; exit 3`,
    ]);
    await publish(queue, 'job', { messageId: 'r-2', replyTo: replies });
    await eventually(async () => (await ready(`${queue}.failed`)) === 1, 'the job kept in .failed');
    await worker.waitFor(/FAILED/);
    await sleep(1_000);
    expect(await lines(runs)).toEqual(['run']);
    worker.signal('SIGINT');
    const result = await worker.finished();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`r-2: the broker refused its reply to '${replies}'`));
    expect(result.stdout).toMatch(/FAILED {4}"job" r-2 exit code 3 .*moved to '.*\.failed', acked/);
    expect(await ready(queue)).toBe(0);
    const [failed] = await takeAll(`${queue}.failed`);
    expect(failed?.properties.headers?.['x-qtool-failure-reason']).toBe('exit code 3');
  });

  it('a refused reply does not fail the reply of a job running beside it', async () => {
    const queue = uniqueName('refused-beside');
    const refusing = await refusingQueue();
    const replies = uniqueName('good-replies');
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(replies, { durable: false }));
    const worker = await startWorker(queue, 'beside', [
      '--acknowledge',
      '--concurrency',
      '2',
      '--exec',
      'sleep 0.3; echo done',
    ]);
    await publish(queue, 'bad', { messageId: 'b-1', replyTo: refusing });
    await publish(queue, 'good', { messageId: 'g-1', replyTo: replies });
    await eventually(async () => (await ready(replies)) === 1, 'the good reply');
    await eventually(async () => (await ready(`${queue}.failed`)) === 1, 'the refused one in .failed');
    worker.signal('SIGINT');
    const result = await worker.finished();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/processed "good" g-1 exit 0 .*acked/);
  });
});

describe('qprocessor --exec when the broker refuses a copy', () => {
  it.skipIf(!broker.hasCtl)('a refused .retry copy sends the message to .failed instead, once', async () => {
    const queue = uniqueName('refused-retry');
    const runs = join(folder, `${queue}.runs`);
    // A policy, as an operator would set: the worker's own declare of .retry still matches.
    await broker.ctl([
      'set_policy',
      `${queue}-full`,
      `^${queue}\\.retry$`,
      '{"max-length":0,"overflow":"reject-publish"}',
      '--apply-to',
      'queues',
    ]);
    try {
      const worker = await startWorker(queue, 'noretry', [
        '--acknowledge',
        '--retries',
        '2',
        '--retry-delay',
        '0',
        '--exec',
        `echo run >> ${runs}; exit 5`,
      ]);
      await publish(queue, 'job', { messageId: 'rr-1' });
      await eventually(async () => (await ready(`${queue}.failed`)) === 1, 'the job in .failed');
      await sleep(1_000);
      expect(await lines(runs)).toEqual(['run']);
      worker.signal('SIGINT');
      const result = await worker.finished();
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(
        /rr-1: the broker refused its copy into '.*\.retry' .*moving it to '.*\.failed' instead/,
      );
      const [failed] = await takeAll(`${queue}.failed`);
      expect(String(failed?.properties.headers?.['x-qtool-failure-reason'])).toMatch(
        /^exit code 5; retry refused: /,
      );
    } finally {
      await broker.ctl(['clear_policy', `${queue}-full`]);
    }
  });

  it('a refused .failed copy: the message is held unacked, not requeued to run again and again', async () => {
    const queue = uniqueName('refused-failedq');
    const runs = join(folder, `${queue}.runs`);
    await withChannel(broker.amqpUrl, async (channel) => {
      await channel.assertQueue(queue, { durable: true });
      await channel.assertQueue(`${queue}.failed`, {
        durable: true,
        arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
      });
    });
    const worker = await startWorker(queue, 'holder', [
      '--acknowledge',
      '--exec',
      `echo run >> ${runs}; exit 6`,
    ]);
    await publish(queue, 'job', { messageId: 'fq-1' });
    await worker.waitFor(/fq-1: could not publish its outcome/, { stream: 'stderr' });
    // Its one prefetch slot is taken by the held message: the broker sends it nothing more, and
    // the worker says so rather than looking as if it waited for work.
    await worker.waitFor(
      /its prefetch of 1 is all taken by messages it holds unacked, so the broker delivers it nothing more/,
      { stream: 'stderr' },
    );
    await sleep(1_000);
    expect(await lines(runs)).toEqual(['run']);
    worker.signal('SIGINT');
    const result = await worker.finished();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/1 held unacked/);
    // Given back when the worker closed its channel: still there, for a fixed .failed or a person.
    await eventually(async () => (await ready(queue)) === 1, 'the message back in the queue');
  });
});

describe('qprocessor --exec leaving on an error', () => {
  it('when the queue is deleted, says the running job was stopped and its message went with the queue', async () => {
    const queue = uniqueName('exit-deleted');
    const pidFile = join(folder, `${queue}.pid`);
    const worker = await startWorker(queue, 'gone', [
      '--acknowledge',
      '--exec',
      `echo $$ > ${pidFile}; exec sleep 60`,
    ]);
    await publish(queue, 'long', { messageId: 'd-1' });
    await eventually(async () => (await lines(pidFile)).length === 1, 'the job started');
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(queue));
    const result = await worker.finished();
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/stopped: 1 message received/);
    expect(result.stderr).toMatch(
      /The job running was stopped \(SIGTERM\); its message went with the deleted queue\./,
    );
    expect(result.stderr).not.toMatch(/keeps? running/);
  });

  it('with auto-ack, leaving on an error starts none of the messages still waiting, and counts them lost', async () => {
    const queue = uniqueName('exit-inbox');
    const started = join(folder, `${queue}.started`);
    const worker = await startWorker(queue, 'inbox', ['--exec', `echo $$ >> ${started}; exec sleep 60`]);
    for (const n of [1, 2, 3]) await publish(queue, `job ${n}`, { messageId: `i-${n}` });
    await eventually(async () => (await lines(started)).length === 1, 'the first job started');
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(queue));
    const result = await worker.finished();
    expect(result.exitCode).toBe(1);
    // Auto-ack: all three were delivered at once; one ran and was stopped, two never started.
    expect(result.stderr).toMatch(/stopped: 1 message received, 0 succeeded, 0 failed .*1 lost/);
    expect(result.stderr).toMatch(/2 messages had arrived but were never run; with auto-ack .* lost/);
    // Before, each stopped job's end started the next one from the inbox, after the tally.
    expect(await lines(started)).toHaveLength(1);
    for (const pid of await lines(started)) expect(isRunning(Number(pid))).toBe(false);
  });

  it('with --no-reconnect and auto-ack, says the running job was stopped and its message is lost', async () => {
    const queue = uniqueName('exit-lost');
    const pidFile = join(folder, `${queue}.pid`);
    const worker = await startWorker(queue, 'lost', [
      '--no-reconnect',
      '--exec',
      `echo $$ > ${pidFile}; exec sleep 60`,
    ]);
    await publish(queue, 'long', { messageId: 'l-1' });
    await eventually(async () => (await lines(pidFile)).length === 1, 'the job started');
    const pid = Number((await lines(pidFile))[0]);
    await closeConnectionsOf(broker.ctl, worker.process.pid);
    const result = await worker.finished();
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/stopped: 1 message received, 0 succeeded, 0 failed .*1 lost/);
    expect(result.stderr).toMatch(
      /The job running was stopped \(SIGTERM\) and its message is lost: with auto-ack the broker had already removed it\./,
    );
    await eventually(() => !isRunning(pid), 'the job gone with its worker', 5_000);
  });

  it('with --no-reconnect and manual acks, says the stopped job is delivered again', async () => {
    const queue = uniqueName('exit-manual');
    const pidFile = join(folder, `${queue}.pid`);
    const worker = await startWorker(queue, 'again', [
      '--acknowledge',
      '--no-reconnect',
      '--exec',
      `echo $$ > ${pidFile}; exec sleep 60`,
    ]);
    await publish(queue, 'long', { messageId: 'm-1' });
    await eventually(async () => (await lines(pidFile)).length === 1, 'the job started');
    await closeConnectionsOf(broker.ctl, worker.process.pid);
    const result = await worker.finished();
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/stopped: 1 message received/);
    expect(result.stderr).toMatch(
      /The job running was stopped \(SIGTERM\); its message was not acked, so the broker delivers it again\./,
    );
    await eventually(async () => (await ready(queue)) === 1, 'the message back in the queue');
  });
});

describe('qprocessor --exec copies', () => {
  it('publishes .retry and .failed copies persistent, even of a transient message', async () => {
    const queue = uniqueName('copies-persistent');
    const worker = await startWorker(queue, 'keeper', [
      '--acknowledge',
      '--retries',
      '1',
      '--retry-delay',
      '60',
      '--exec',
      'exit 4',
    ]);
    await publish(queue, 'transient', { messageId: 'p-1', persistent: false });
    await eventually(async () => (await ready(`${queue}.retry`)) === 1, 'the retry copy');
    const [retried] = await takeAll(`${queue}.retry`);
    expect(retried?.properties.deliveryMode).toBe(2);
    // Back to the work queue as the retry queue would (here at once), for its last attempt.
    await publish(queue, 'transient', {
      messageId: 'p-1',
      persistent: false,
      headers: retried?.properties.headers,
    });
    await eventually(async () => (await ready(`${queue}.failed`)) === 1, 'the failed copy');
    worker.signal('SIGINT');
    await worker.finished();
    const [failed] = await takeAll(`${queue}.failed`);
    expect(failed?.properties.deliveryMode).toBe(2);
  });

  it('refuses a queue name that leaves no room for .failed (7 bytes), not only .retry (6)', async () => {
    // 249 + '.retry' = 255 bytes fits; 249 + '.failed' = 256 does not.
    const queue = 'q'.repeat(249);
    const result = await runCli(['qprocessor', '--queue', queue, '--acknowledge', '--exec', 'true'], {
      env,
      timeoutMs: 20_000,
    });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toMatch(
      /too long for --exec with --acknowledge: '.*\.failed' would exceed 255 bytes/,
    );
  });

  it('cuts a reply to the first 4 MiB of a longer stdout, says so, and gives the full size in x-qtool-stdout-bytes', async () => {
    const queue = uniqueName('long-output');
    const replies = uniqueName('long-replies');
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(replies, { durable: false }));
    const total = 5 * 1024 * 1024;
    const worker = await startWorker(queue, 'talker', [
      '--acknowledge',
      '--json',
      '--exec',
      `head -c ${total} /dev/zero | tr '\\0' 'z'`,
    ]);
    await publish(queue, 'talk', { messageId: 'lo-1', replyTo: replies });
    await eventually(async () => (await ready(replies)) === 1, 'the reply', 30_000);
    worker.signal('SIGINT');
    const result = await worker.finished();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      /lo-1: its stdout \(5242880 bytes\) is longer than the 4194304 bytes kept for a reply/,
    );
    const [reply] = await takeAll(replies);
    expect(reply?.content.length).toBe(4 * 1024 * 1024);
    expect(reply?.properties.headers?.['x-qtool-stdout-bytes']).toBe(total);
  });
});
