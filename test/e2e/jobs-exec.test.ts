import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Options } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, publishTo, queueState, readyCount, takeMessages, withChannel } from '../support/amqp.js';
import { closeConnectionsOf, testBroker, uniqueName } from '../support/broker.js';
import {
  childEnv,
  isRunning,
  jsonLines,
  QTOOL_BIN,
  type RunningCli,
  runCli,
  startWorker as startJobWorker,
} from '../support/cli.js';

/**
 * `qprocessor --exec`: a real command per message, against the real broker. The jobs themselves
 * record what they saw (environment, start and end times) in files, so the tests check what the
 * command got, not what qtool says it gave.
 */
const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'qtool-jobs-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

interface JobEvent {
  event: string;
  worker: string;
  messageId: string | null;
  body: string;
  attempt: number;
  redelivered: boolean;
  stream?: 'stdout' | 'stderr';
  line?: string;
  reason?: string;
  fate?: string;
}

async function stop(worker: RunningCli) {
  worker.signal('SIGINT');
  return worker.finished();
}

const events = (worker: RunningCli) => jsonLines<JobEvent>(worker.stdout());
const eventsNamed = (worker: RunningCli, name: string) => events(worker).filter((e) => e.event === name);

const startWorker = (queue: string, name: string, extra: string[]) => startJobWorker(env, queue, name, extra);
const publish = (queue: string, body: string, options: Options.Publish = {}) =>
  publishTo(broker.amqpUrl, queue, body, options);
const takeAll = (queue: string) => takeMessages(broker.amqpUrl, queue);
const ready = (queue: string) => readyCount(broker.amqpUrl, queue);

describe('qprocessor --exec', () => {
  it('says its start lines before the first job when the queue already holds messages', async () => {
    const queue = uniqueName('early');
    expect((await runCli(['send', '--queue', queue, 'waiting already'], { env })).exitCode).toBe(0);
    // stdout and stderr into one pipe, as a terminal shows them: the order is the order written.
    const command = `exec "${process.execPath}" "${QTOOL_BIN}" qprocessor --queue ${queue} --name early --exec cat 2>&1`;
    const child = spawn('sh', ['-c', command], { env: childEnv(env) });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    try {
      await eventually(() => /processed/.test(output), 'the job done');
    } finally {
      child.kill('SIGINT');
      await once(child, 'close');
    }
    const start = output.indexOf('waiting for messages');
    expect(start, output).toBeGreaterThanOrEqual(0);
    expect(start, output).toBeLessThan(output.indexOf('received'));
  });

  it('runs the command with the body on stdin and the metadata in the environment, prefixing its output', async () => {
    const queue = uniqueName('exec-ok');
    const seen = join(folder, `${queue}.env`);
    const command = `cat; echo; echo "id=$QTOOL_MESSAGE_ID q=$QTOOL_QUEUE r=$QTOOL_REDELIVERED dc=[$QTOOL_DELIVERY_COUNT] c=$QTOOL_CORRELATION_ID" > ${seen}; echo to-stderr >&2`;
    const worker = await startWorker(queue, 'runner', ['--acknowledge', '--exec', command]);
    const id = randomUUID();
    await publish(queue, 'hello job', { messageId: id, correlationId: 'corr-1' });
    await worker.waitFor(/processed "hello job"/);
    expect(await readFile(seen, 'utf8')).toBe(`id=${id} q=${queue} r=false dc=[] c=corr-1\n`);
    // Each line of the job's output, with the worker's name and the message id before it.
    expect(worker.stdout()).toMatch(
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} runner ${id} \\| hello job$`, 'm'),
    );
    expect(worker.stderr()).toMatch(
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} runner ${id} \\| to-stderr$`, 'm'),
    );
    expect(worker.stdout()).toMatch(new RegExp(`processed "hello job" ${id} exit 0 in \\d+ ms, acked`));
    const result = await stop(worker);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/stopped: 1 message received, 1 succeeded, 0 failed/);
    await eventually(async () => (await ready(queue)) === 0, 'the work queue empty');
    expect(await ready(`${queue}.failed`)).toBe(0);
  });

  it('retries a failing command exactly n times through the retry queue, then moves it to .failed with the reasons', async () => {
    const queue = uniqueName('exec-retry');
    const attempts = join(folder, `${queue}.attempts`);
    const worker = await startWorker(queue, 'retrier', [
      '--acknowledge',
      '--json',
      '--retries',
      '2',
      '--retry-delay',
      '0.2',
      '--exec',
      `echo "$QTOOL_ATTEMPT $QTOOL_REDELIVERED" >> ${attempts}; exit 3`,
    ]);
    await worker.waitFor(
      new RegExp(
        `failures: retried up to 2 times, 0.2 s apart, through '${queue}.retry' \\(per-message TTL, then dead-lettered back to '${queue}'\\), then moved to '${queue}.failed'\\.$`,
        'm',
      ),
      { stream: 'stderr' },
    );
    const id = randomUUID();
    const before = Date.now();
    await publish(queue, 'doomed', {
      messageId: id,
      correlationId: 'c-9',
      persistent: true,
      contentType: 'text/plain',
      headers: { own: 'kept' },
    });
    await eventually(async () => (await ready(`${queue}.failed`)) === 1, 'one message in .failed');
    await eventually(() => eventsNamed(worker, 'failed').length === 3, 'the third failure reported');
    const failedEvents = eventsNamed(worker, 'failed');
    expect(failedEvents.map((e) => [e.attempt, e.fate])).toEqual([
      [1, 'retry'],
      [2, 'retry'],
      [3, 'failed-queue'],
    ]);
    const result = await stop(worker);
    expect(result.exitCode, result.stderr).toBe(0);
    // n + 1 runs of the command, no more: the worker's word and the command's own record agree.
    expect(await readFile(attempts, 'utf8')).toBe('1 false\n2 false\n3 false\n');
    expect(eventsNamed(worker, 'received')).toHaveLength(3);
    expect(await ready(queue)).toBe(0);
    expect(await ready(`${queue}.retry`)).toBe(0);
    const [failed, ...more] = await takeAll(`${queue}.failed`);
    expect(more).toHaveLength(0);
    if (failed === undefined) throw new Error('no failed message');
    expect(failed.content.toString()).toBe('doomed');
    const props = failed.properties;
    expect(props.messageId).toBe(id);
    expect(props.correlationId).toBe('c-9');
    expect(props.contentType).toBe('text/plain');
    expect(props.deliveryMode).toBe(2);
    const headers = props.headers ?? {};
    expect(headers['x-qtool-failure-reason']).toBe('exit code 3');
    expect(headers['x-qtool-exit-code']).toBe(3);
    expect(headers['x-qtool-signal']).toBeUndefined();
    expect(headers['x-qtool-worker']).toBe('retrier');
    expect(headers['x-qtool-attempts']).toBe(3);
    expect(headers['x-qtool-queue']).toBe(queue);
    expect(headers.own).toBe('kept');
    const failedAt = Date.parse(String(headers['x-qtool-failed-at']));
    expect(failedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(failedAt).toBeLessThanOrEqual(Date.now());
    expect(String(headers['x-qtool-failed-at'])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('a message requeued from .failed as it is gets a fresh set of retries', async () => {
    const queue = uniqueName('exec-requeue');
    const worker = await startWorker(queue, 'again', [
      '--acknowledge',
      '--json',
      '--retries',
      '1',
      '--retry-delay',
      '0',
      '--exec',
      'exit 2',
    ]);
    await publish(queue, 'twice', { messageId: 'rq-1' });
    await eventually(async () => (await ready(`${queue}.failed`)) === 1, 'the first round in .failed');
    const [first] = await takeAll(`${queue}.failed`);
    if (first === undefined) throw new Error('nothing in .failed');
    // What a requeue that keeps everything does: the same body, properties and headers, back to the work queue.
    await publish(queue, first.content.toString(), {
      messageId: first.properties.messageId,
      headers: first.properties.headers,
    });
    await eventually(async () => (await ready(`${queue}.failed`)) === 1, 'the second round in .failed');
    await eventually(() => eventsNamed(worker, 'failed').length === 4, 'four failures reported');
    await stop(worker);
    expect(eventsNamed(worker, 'received').map((e) => e.attempt)).toEqual([1, 2, 1, 2]);
    const [second] = await takeAll(`${queue}.failed`);
    expect(second?.properties.headers?.['x-qtool-attempts']).toBe(2);
  });

  it('on a quorum queue retries the same way, and says what becomes of the broker delivery limit', async () => {
    const queue = uniqueName('exec-quorum');
    const worker = await startWorker(queue, 'q', [
      '--queue-type',
      'quorum',
      '--acknowledge',
      '--json',
      '--retries',
      '1',
      '--retry-delay',
      '0.1',
      '--exec',
      'exit 4',
    ]);
    const limit =
      broker.major >= 4
        ? 'returns a message at most 20 times by default \\(x-delivery-limit\\)'
        : 'sets no delivery limit by default';
    await worker.waitFor(
      new RegExp(`'${queue}' is a quorum queue whose broker ${limit}: failed jobs are acked and republished`),
      { stream: 'stderr' },
    );
    await publish(queue, 'q-job', { messageId: 'q-1' });
    await eventually(async () => (await ready(`${queue}.failed`)) === 1, 'one message in .failed');
    await stop(worker);
    expect(eventsNamed(worker, 'received').map((e) => e.attempt)).toEqual([1, 2]);
    const [failed] = await takeAll(`${queue}.failed`);
    expect(failed?.properties.headers?.['x-qtool-attempts']).toBe(2);
    expect(failed?.properties.headers?.['x-qtool-exit-code']).toBe(4);
    expect(await ready(queue)).toBe(0);
    expect(await ready(`${queue}.retry`)).toBe(0);
  });

  it('kills a job that outlasts --job-timeout with SIGTERM, and one that ignores it with SIGKILL', async () => {
    const queue = uniqueName('exec-timeout');
    const worker = await startWorker(queue, 'timer', [
      '--acknowledge',
      '--json',
      '--job-timeout',
      '0.5',
      '--kill-after',
      '0.5',
      '--exec',
      // The body picks the behaviour: "term" dies of SIGTERM; "stubborn" ignores it (sleep inherits that).
      'read how; if [ "$how" = stubborn ]; then trap "" TERM; fi; sleep 30',
    ]);
    await publish(queue, 'term', { messageId: 'job-term' });
    await publish(queue, 'stubborn', { messageId: 'job-stubborn' });
    await eventually(async () => (await ready(`${queue}.failed`)) === 2, 'both in .failed', 20_000);
    await stop(worker);
    const failed = await takeAll(`${queue}.failed`);
    const byId = new Map(failed.map((m) => [m.properties.messageId, m.properties.headers ?? {}]));
    expect(byId.get('job-term')?.['x-qtool-failure-reason']).toBe(
      'killed by SIGTERM after the 0.5 s job time-out',
    );
    expect(byId.get('job-term')?.['x-qtool-signal']).toBe('SIGTERM');
    expect(byId.get('job-term')?.['x-qtool-exit-code']).toBeUndefined();
    expect(byId.get('job-stubborn')?.['x-qtool-failure-reason']).toBe(
      'killed by SIGKILL after the 0.5 s job time-out (it outlived SIGTERM)',
    );
    expect(byId.get('job-stubborn')?.['x-qtool-signal']).toBe('SIGKILL');
  });

  it('reports a job killed from outside by its signal', async () => {
    const queue = uniqueName('exec-killed');
    const worker = await startWorker(queue, 'victim', ['--acknowledge', '--exec', 'kill -KILL $$']);
    await publish(queue, 'x', { messageId: 'job-killed' });
    await worker.waitFor(
      /FAILED +"x" job-killed killed by SIGKILL in \d+ ms: moved to '[^']+\.failed', acked/,
    );
    await stop(worker);
    const [failed] = await takeAll(`${queue}.failed`);
    expect(failed?.properties.headers?.['x-qtool-failure-reason']).toBe('killed by SIGKILL');
    expect(failed?.properties.headers?.['x-qtool-attempts']).toBe(1);
  });

  it('--concurrency runs jobs in parallel: their own start and end times overlap', async () => {
    const queue = uniqueName('exec-parallel');
    const times = join(folder, queue);
    await rm(times, { recursive: true, force: true });
    await mkdir(times);
    const worker = await startWorker(queue, 'par', [
      '--acknowledge',
      '--prefetch',
      '1',
      '--concurrency',
      '3',
      '--exec',
      `f=${times}/$QTOOL_MESSAGE_ID; date +%s%N > $f.start; sleep 1; date +%s%N > $f.end`,
    ]);
    await worker.waitFor(/warning: --prefetch 1 raised to 3 so that --concurrency 3 jobs can run at once/, {
      stream: 'stderr',
    });
    for (const id of ['a', 'b', 'c']) await publish(queue, id, { messageId: id });
    await eventually(
      async () => (await readdir(times)).filter((f) => f.endsWith('.end')).length === 3,
      'three jobs done',
    );
    await stop(worker);
    const read = async (file: string) => BigInt((await readFile(join(times, file), 'utf8')).trim());
    const spans = await Promise.all(
      ['a', 'b', 'c'].map(async (id) => [await read(`${id}.start`), await read(`${id}.end`)] as const),
    );
    const latestStart = spans.reduce((max, [start]) => (start > max ? start : max), 0n);
    const earliestEnd = spans.reduce((min, [, end]) => (end < min ? end : min), spans[0]?.[1] ?? 0n);
    // All three were running at one moment: each started before any ended.
    expect(latestStart < earliestEnd).toBe(true);
  });

  it('Ctrl-C takes no new job but lets the ones running finish, and acks them', async () => {
    const queue = uniqueName('exec-stop');
    const release = join(folder, `${queue}.release`);
    const worker = await startWorker(queue, 'calm', [
      '--acknowledge',
      '--json',
      '--concurrency',
      '2',
      '--exec',
      `echo "working on $(cat)"; while [ ! -f ${release} ]; do sleep 0.05; done`,
    ]);
    for (const body of ['one', 'two', 'three']) await publish(queue, body, { messageId: body });
    await eventually(() => eventsNamed(worker, 'output').length === 2, 'two jobs running');
    worker.signal('SIGINT');
    await worker.waitFor(/stopping: finishing the jobs in hand/, { stream: 'stderr' });
    await writeFile(release, '');
    const result = await worker.finished();
    expect(result.exitCode, result.stderr).toBe(0);
    const output = eventsNamed(worker, 'output').map((e) => [e.messageId, e.stream, e.line]);
    expect(output.sort()).toEqual([
      ['one', 'stdout', 'working on one'],
      ['two', 'stdout', 'working on two'],
    ]);
    expect(
      eventsNamed(worker, 'acked')
        .map((e) => e.messageId)
        .sort(),
    ).toEqual(['one', 'two']);
    // The third was never started: it went back to the queue with the channel.
    await eventually(async () => (await ready(queue)) === 1, 'the third back in the queue');
  });

  it('replies to reply_to with the stdout and the exit code, duration and worker in headers', async () => {
    const queue = uniqueName('exec-reply');
    const replies = uniqueName('replies');
    await withChannel(broker.amqpUrl, (channel) =>
      channel.assertQueue(replies, { durable: false, autoDelete: false }),
    );
    const worker = await startWorker(queue, 'answerer', [
      '--acknowledge',
      '--exec',
      'tr a-z A-Z; read -r x < /dev/null; test "$QTOOL_CORRELATION_ID" != fail',
    ]);
    await publish(queue, 'shout', { messageId: 'm-1', correlationId: 'ok', replyTo: replies });
    await publish(queue, 'quiet', { messageId: 'm-2', correlationId: 'fail', replyTo: replies });
    // A reply to a queue that is gone is dropped by the broker; the worker carries on.
    await publish(queue, 'nobody', { messageId: 'm-3', replyTo: uniqueName('gone') });
    await eventually(async () => (await ready(replies)) === 2, 'two replies');
    await worker.waitFor(/processed "nobody"/);
    const result = await stop(worker);
    expect(result.exitCode, result.stderr).toBe(0);
    const got = await takeAll(replies);
    const byCorrelation = new Map(got.map((m) => [m.properties.correlationId, m]));
    const ok = byCorrelation.get('ok');
    expect(ok?.content.toString()).toBe('SHOUT');
    expect(ok?.properties.headers?.['x-qtool-exit-code']).toBe(0);
    expect(ok?.properties.headers?.['x-qtool-worker']).toBe('answerer');
    expect(typeof ok?.properties.headers?.['x-qtool-duration-ms']).toBe('number');
    // The final failure is replied to too (no --retries: it went to .failed at once).
    const failed = byCorrelation.get('fail');
    expect(failed?.content.toString()).toBe('QUIET');
    expect(failed?.properties.headers?.['x-qtool-exit-code']).toBe(1);
    expect(failed?.properties.headers?.['x-qtool-failure-reason']).toBe('exit code 1');
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(replies));
  });

  it('the fake worker (no --exec) replies too, with the processed text and exit code 0, before its ack', async () => {
    const queue = uniqueName('fake-reply');
    const replies = uniqueName('replies');
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(replies, { durable: false }));
    const worker = await startWorker(queue, 'faker', ['--acknowledge', '--json', '--delay-per-char', '0']);
    await publish(queue, 'echo me', { messageId: 'fm-1', replyTo: replies });
    await publish(queue, 'no reply wanted', { messageId: 'fm-2' });
    await eventually(() => eventsNamed(worker, 'acked').length === 2, 'both acked');
    await stop(worker);
    expect(eventsNamed(worker, 'replied').map((e) => e.body)).toEqual(['echo me']);
    const got = await takeAll(replies);
    expect(got).toHaveLength(1);
    expect(got[0]?.content.toString()).toBe('echo me');
    expect(got[0]?.properties.correlationId).toBe('fm-1');
    expect(got[0]?.properties.headers?.['x-qtool-exit-code']).toBe(0);
    expect(got[0]?.properties.headers?.['x-qtool-worker']).toBe('faker');
    expect(typeof got[0]?.properties.headers?.['x-qtool-duration-ms']).toBe('number');
    // The reply came before the ack in the worker's own account.
    const kinds = events(worker)
      .filter((e) => e.body === 'echo me')
      .map((e) => e.event);
    expect(kinds).toEqual(['received', 'replied', 'processed', 'acked']);
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(replies));
  });

  it('a reply goes out only once the job is finished for good, not on a failure that is retried', async () => {
    const queue = uniqueName('exec-reply-retry');
    const replies = uniqueName('replies');
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(replies, { durable: false }));
    const worker = await startWorker(queue, 'r', [
      '--acknowledge',
      '--json',
      '--retries',
      '1',
      '--retry-delay',
      '0',
      '--exec',
      'echo "try $QTOOL_ATTEMPT"; test "$QTOOL_ATTEMPT" = 2',
    ]);
    await publish(queue, 'flaky', { messageId: 'f-1', replyTo: replies });
    await eventually(async () => (await ready(replies)) === 1, 'the reply');
    await eventually(() => eventsNamed(worker, 'acked').length === 2, 'both attempts acked');
    await stop(worker);
    const got = await takeAll(replies);
    expect(got.map((m) => [m.content.toString(), m.properties.correlationId])).toEqual([['try 2\n', 'f-1']]);
    expect(await ready(`${queue}.failed`)).toBe(0);
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(replies));
  });

  it('without --acknowledge says at start that failures cannot be retried, and the failed message is gone', async () => {
    const queue = uniqueName('exec-autoack');
    const worker = await startWorker(queue, 'auto', ['--exec', 'exit 5', '--retries', '2']);
    await worker.waitFor(
      /failures: cannot be retried or kept without --acknowledge \(auto-ack: the broker removes each message when it delivers it, so a failed job's message is gone\); --retries has no effect\./,
      { stream: 'stderr' },
    );
    await publish(queue, 'lost', { messageId: 'l-1' });
    await worker.waitFor(/FAILED +"lost" l-1 exit code 5 in \d+ ms: cannot be retried/);
    const result = await stop(worker);
    // The tally says it too, not "(0 retried, 0 moved to the failed queue)" as if they could have been.
    expect(result.stderr).toMatch(/1 failed \(gone: with auto-ack a failed job's message cannot be kept\)/);
    expect(await ready(queue)).toBe(0);
    // Nothing was declared for retries: auto-ack has none.
    expect(await queueState(broker.amqpUrl, `${queue}.retry`)).toBeNull();
  });

  it.skipIf(!broker.hasCtl)(
    'a job in flight when the connection is lost runs again, redelivered; its late result is not acked on the new channel',
    async () => {
      const queue = uniqueName('exec-reconnect');
      const runs = join(folder, `${queue}.runs`);
      const release = join(folder, `${queue}.release`);
      const worker = await startWorker(queue, 'phoenix', [
        '--acknowledge',
        '--json',
        '--exec',
        // The first run waits for the test to let it go; the redelivered one finishes at once.
        `echo "$QTOOL_REDELIVERED" >> ${runs}; if [ "$QTOOL_REDELIVERED" = false ]; then while [ ! -f ${release} ]; do sleep 0.05; done; fi`,
      ]);
      await publish(queue, 'survivor', { messageId: 's-1', persistent: true });
      await eventually(() => eventsNamed(worker, 'received').length === 1, 'the first run started');
      expect(await closeConnectionsOf(broker.ctl, worker.process.pid)).toBe(1);
      await worker.waitFor(/The job in flight keeps running, but its result is dropped/, {
        stream: 'stderr',
      });
      await worker.waitFor(/reconnected to/, { stream: 'stderr' });
      // The redelivered copy runs beside the late one and is acked on the new channel.
      await eventually(() => eventsNamed(worker, 'acked').length === 1, 'the second run acked', 20_000);
      await writeFile(release, '');
      // The first run's result comes after that: dropped, not acked with a stale delivery tag.
      await eventually(() => eventsNamed(worker, 'dropped').length === 1, 'the late result dropped');
      const result = await stop(worker);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/PRECONDITION_FAILED|unknown delivery tag/i);
      expect(await readFile(runs, 'utf8')).toBe('false\ntrue\n');
      expect(eventsNamed(worker, 'received').map((e) => e.redelivered)).toEqual([false, true]);
      expect(await ready(queue)).toBe(0);
      expect(await ready(`${queue}.failed`)).toBe(0);
    },
  );

  it('declares <queue>.failed again when it was deleted under the worker, so the copy is not confirmed into nowhere', async () => {
    const queue = uniqueName('exec-refail');
    const worker = await startWorker(queue, 'keeper', ['--acknowledge', '--exec', 'exit 9']);
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(`${queue}.failed`));
    await publish(queue, 'orphan', { messageId: 'o-1' });
    await worker.waitFor(/FAILED +"orphan" o-1 exit code 9 .*moved to/);
    await stop(worker);
    expect(worker.stderr()).toMatch(
      new RegExp(`warning: queue '${queue}.failed' is gone: declaring it again`),
    );
    const failed = await takeAll(`${queue}.failed`);
    expect(failed.map((m) => m.content.toString())).toEqual(['orphan']);
  });

  it('when its queue is deleted the worker exits 1, and the job it was running does not outlive it', async () => {
    const queue = uniqueName('exec-gone');
    const pidFile = join(folder, `${queue}.pid`);
    const worker = await startWorker(queue, 'doomed', [
      '--acknowledge',
      '--exec',
      `echo $$ > ${pidFile}; exec sleep 60`,
    ]);
    await publish(queue, 'long', { messageId: 'g-1' });
    await eventually(
      async () => (await readFile(pidFile, 'utf8').catch(() => '')).trim() !== '',
      'the job started',
    );
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(queue));
    const result = await worker.finished();
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`queue '${queue}' was deleted`));
    await eventually(() => !isRunning(pid), 'the job gone with its worker', 5_000);
  });

  it('stops with a plain message when <queue>.retry exists with other settings', async () => {
    const queue = uniqueName('exec-clash');
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(`${queue}.retry`, { durable: true }));
    const result = await runCli(
      ['qprocessor', '--queue', queue, '--acknowledge', '--retries', '1', '--exec', 'true'],
      {
        env,
      },
    );
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`queue '${queue}.retry' exists with other settings than a retry queue for '${queue}' needs`),
    );
    expect(result.stderr).toMatch(/qtool delete --queue \S+\.retry --force/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(`${queue}.retry`));
  });

  it.each([
    [['qprocessor', '--retries', '2'], /--retries needs --exec/],
    [['qprocessor', '--concurrency', '2'], /--concurrency needs --exec/],
    [['qprocessor', '--exec', 'true', '--lose-every', '2'], /--lose-every is about the fake work/],
    [['qprocessor', '--exec', 'true', '--kill-after', '1'], /--kill-after needs --job-timeout/],
    [['qprocessor', '--exec', 'true', '--job-timeout', '0'], /--job-timeout/],
    [['qprocessor', '--exec', 'true', '--concurrency', '0'], /--concurrency/],
  ])('refuses %j with a usage error', async (args, message) => {
    const result = await runCli(args, { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
