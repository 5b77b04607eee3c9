import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, queueState, withChannel } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { completeJsonLines, faultScene } from '../support/faults.js';
import { canStartTestNodes } from '../support/nodes.js';

/**
 * Issue 10's "done when": a worker running a real command survives a broker restart mid-job. The
 * job runs again (at least once, flagged redelivered), its reply still arrives, and the first run's
 * late result is neither acked nor replied. On a node of its own, since the test restarts it.
 */
describe.skipIf(!canStartTestNodes()).sequential('qprocessor --exec through a broker restart', () => {
  const scene = faultScene();
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'qtool-jobs-restart-'));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('runs the job in flight again, redelivered, replies once, and drops the late result', async () => {
    const queue = uniqueName('restart-job');
    const replies = uniqueName('restart-replies');
    const runs = join(folder, `${queue}.runs`);
    const release = join(folder, `${queue}.release`);
    const url = scene.node.url;
    // Durable, so that the reply queue (and the reply) outlives the restart like the job does.
    await withChannel(url, async (channel) => {
      await channel.assertQueue(queue, { durable: true });
      await channel.assertQueue(replies, { durable: true });
    });
    const worker = scene.clis.start(
      [
        'qprocessor',
        '--queue',
        queue,
        '--name',
        'phoenix',
        '--acknowledge',
        '--json',
        '--exec',
        // The first run holds on until the test lets it go (after the restart); a redelivered one ends at once.
        `echo "$QTOOL_REDELIVERED" >> ${runs}; if [ "$QTOOL_REDELIVERED" = false ]; then while [ ! -f ${release} ]; do sleep 0.05; done; fi; echo "result of run redelivered=$QTOOL_REDELIVERED"`,
      ],
      { env: scene.env },
    );
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    await withChannel(url, async (channel) => {
      channel.sendToQueue(queue, Buffer.from('resize-photo-42'), {
        persistent: true,
        messageId: 'job-42',
        correlationId: 'corr-42',
        replyTo: replies,
      });
      await channel.checkQueue(queue);
    });
    const events = (name: string) =>
      completeJsonLines<{ event: string; redelivered: boolean }>(worker.stdout()).filter(
        (e) => e.event === name,
      );
    await eventually(() => events('received').length === 1, 'the first run started');

    await scene.node.restart();

    await worker.waitFor(/reconnected to .*; reconnects so far: 1\n/, {
      stream: 'stderr',
      timeoutMs: 60_000,
    });
    expect(worker.stderr()).toMatch(
      /connection lost: the broker closed the connection: it is shutting down; reconnecting\. The job in flight keeps running, but its result is dropped/,
    );
    await eventually(() => events('acked').length === 1, 'the redelivered run acked', 30_000);
    await writeFile(release, '');
    await eventually(() => events('dropped').length === 1, 'the late first run dropped');
    worker.signal('SIGINT');
    const result = await worker.finished();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(events('received').map((e) => e.redelivered)).toEqual([false, true]);
    expect(await readFile(runs, 'utf8')).toBe('false\ntrue\n');

    const got = await withChannel(url, async (channel) => {
      const taken: GetMessage[] = [];
      for (;;) {
        const message = await channel.get(replies, { noAck: true });
        if (message === false) return taken;
        taken.push(message);
      }
    });
    // One reply, from the run that finished on a live channel.
    expect(got.map((m) => [m.content.toString(), m.properties.correlationId])).toEqual([
      ['result of run redelivered=true\n', 'corr-42'],
    ]);
    expect((await queueState(url, queue))?.messageCount).toBe(0);
    scene.clis.expectNoneRunning();
  });

  it('send --wait gets the result of the job run again after the restart, and exits with its status', async () => {
    const queue = uniqueName('restart-wait');
    const runs = join(folder, `${queue}.runs`);
    const senderBack = join(folder, `${queue}.sender-back`);
    const release = join(folder, `${queue}.release`);
    const worker = scene.clis.start(
      [
        'qprocessor',
        '--queue',
        queue,
        '--name',
        'phoenix',
        '--acknowledge',
        '--exec',
        // The first run is still going when the broker stops. The run after the restart waits until
        // the sender is back (a reply that comes while no reply queue exists is dropped), then fails
        // with 3, so that the sender's exit status is the job's.
        `echo "$QTOOL_REDELIVERED" >> ${runs}; if [ "$QTOOL_REDELIVERED" = false ]; then while [ ! -f ${release} ]; do sleep 0.05; done; fi; while [ ! -f ${senderBack} ]; do sleep 0.05; done; echo "rerun of $QTOOL_MESSAGE_ID"; exit 3`,
      ],
      { env: scene.env },
    );
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    const sender = scene.clis.start(
      ['send', '--queue', queue, '--persistent', '--wait', '--timeout', '150', 'resize photo 43'],
      { env: scene.env },
    );
    await eventually(
      async () => (await readFile(runs, 'utf8').catch(() => '')) === 'false\n',
      'the first run',
    );

    await scene.node.restart();

    await sender.waitFor(/reconnected to .*; reconnects so far: 1\n/, {
      stream: 'stderr',
      timeoutMs: 90_000,
    });
    await writeFile(senderBack, '');
    const sent = await sender.finished(90_000);
    expect(await readFile(runs, 'utf8')).toBe('false\ntrue\n');
    expect(sent.exitCode, sent.stderr).toBe(3);
    const id = /^rerun of ([0-9a-f-]{36})$/m.exec(sent.stdout)?.[1];
    expect(id, sent.stdout).toBeDefined();
    expect(sent.stderr).toContain(`job ${id} failed on worker phoenix`);
    await writeFile(release, '');
    worker.signal('SIGINT');
    const stopped = await worker.finished(30_000);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    scene.clis.expectNoneRunning();
  }, 240_000);
});
