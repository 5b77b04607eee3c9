import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, publishTo, queueState } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { interruptTwice, isRunning, startWorker as startJobWorker } from '../support/cli.js';

/** No job outlives its worker: SIGHUP, a crash through the safety net, a second Ctrl-C. */
const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'qtool-jobs-signals-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

const startWorker = (queue: string, name: string, extra: string[]) => startJobWorker(env, queue, name, extra);
const publish = (queue: string, body: string, messageId: string) =>
  publishTo(broker.amqpUrl, queue, body, { messageId });

const pidIn = async (file: string) => Number((await readFile(file, 'utf8').catch(() => '')).trim() || 0);
describe('qprocessor --exec and the end of its process', () => {
  it('SIGHUP stops the worker as Ctrl-C does: the job in hand finishes and is acked', async () => {
    const queue = uniqueName('hup');
    const pidFile = join(folder, `${queue}.pid`);
    const worker = await startWorker(queue, 'hup', [
      '--acknowledge',
      '--exec',
      `echo $$ > ${pidFile}; sleep 0.7; echo finished`,
    ]);
    await publish(queue, 'job', 'h-1');
    await eventually(async () => (await pidIn(pidFile)) !== 0, 'the job started');
    worker.signal('SIGHUP');
    const result = await worker.finished();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/stopping: finishing the jobs in hand/);
    expect(result.stdout).toMatch(/processed "job" h-1 exit 0 .*acked/);
    expect(result.stderr).toMatch(/stopped: 1 message received, 1 succeeded/);
    expect((await queueState(broker.amqpUrl, queue))?.messageCount).toBe(0);
  });

  it('a job does not outlive a worker that the safety net ends (its stdout reader went away)', async () => {
    const queue = uniqueName('crash');
    const pidFile = join(folder, `${queue}.pid`);
    const worker = await startWorker(queue, 'crash', [
      '--acknowledge',
      '--exec',
      `echo $$ > ${pidFile}; sleep 0.5; echo a line for a closed pipe; exec sleep 60`,
    ]);
    await publish(queue, 'job', 'c-1');
    await eventually(async () => (await pidIn(pidFile)) !== 0, 'the job started');
    const pid = await pidIn(pidFile);
    // The worker's next write to stdout fails with EPIPE: the safety net calls process.exit.
    worker.process.stdout.destroy();
    await worker.finished();
    await eventually(() => !isRunning(pid), 'the job gone with its worker', 5_000);
  });

  it('a second Ctrl-C stops the jobs (SIGTERM, then SIGKILL after --kill-after) and exits 130', async () => {
    const queue = uniqueName('twice');
    const pidFile = join(folder, `${queue}.pid`);
    const worker = await startWorker(queue, 'twice', [
      '--acknowledge',
      '--job-timeout',
      '100',
      '--kill-after',
      '1',
      '--exec',
      `echo $$ > ${pidFile}; trap '' TERM; exec sleep 60`,
    ]);
    await publish(queue, 'job', 't-1');
    await eventually(async () => (await pidIn(pidFile)) !== 0, 'the job started');
    const pid = await pidIn(pidFile);
    const result = await interruptTwice(worker);
    expect(result.exitCode).toBe(130);
    expect(result.stderr).toMatch(
      /second interrupt: stopping the job in hand \(SIGTERM, SIGKILL 1 s later if still running\) and exiting; its message is not acked, so the broker delivers it again/,
    );
    expect(isRunning(pid)).toBe(false);
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 1,
      'the message back',
    );
  });

  it('a second Ctrl-C with auto-ack says that the messages delivered but never started are lost too', async () => {
    const queue = uniqueName('twice-auto');
    const pidFile = join(folder, `${queue}.pid`);
    const worker = await startWorker(queue, 'twice-auto', ['--exec', `echo $$ > ${pidFile}; exec sleep 60`]);
    for (const n of [1, 2, 3]) await publish(queue, `job ${n}`, `ta-${n}`);
    await eventually(async () => (await pidIn(pidFile)) !== 0, 'the first job started');
    const result = await interruptTwice(worker);
    expect(result.exitCode).toBe(130);
    expect(result.stderr).toMatch(
      /second interrupt: stopping the job in hand .* and exiting and its message is lost \(auto-ack: the broker had already removed it\); 2 messages delivered but never started are lost too/,
    );
  });
});
