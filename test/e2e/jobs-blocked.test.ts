import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, queueState, withChannel } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { faultScene } from '../support/faults.js';
import { canStartTestNodes } from '../support/nodes.js';

/** A job worker whose reply the broker blocks (a memory alarm): it says so, and carries on after. On a node of its own. */
describe.skipIf(!canStartTestNodes()).sequential('qprocessor --exec under a memory alarm', () => {
  const scene = faultScene();
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'qtool-jobs-blocked-'));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('says in one line that the broker blocks its reply, and that it resumed', async () => {
    const queue = uniqueName('blocked-job');
    const replies = uniqueName('blocked-replies');
    const started = join(folder, `${queue}.started`);
    const release = join(folder, `${queue}.release`);
    const url = scene.node.url;
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
        'alarmed',
        '--acknowledge',
        '--exec',
        `touch ${started}; while [ ! -f ${release} ]; do sleep 0.05; done; echo the-answer`,
      ],
      { env: scene.env },
    );
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    await withChannel(url, async (channel) => {
      channel.sendToQueue(queue, Buffer.from('job'), { messageId: 'bl-1', replyTo: replies });
      await channel.checkQueue(queue);
    });
    await worker.waitFor(/received/);
    let cleared = false;
    try {
      await scene.node.ctl(['set_vm_memory_high_watermark', '0.00001']);
      await eventually(
        async () => /memory/.test(await scene.node.ctl(['eval', 'rabbit_alarm:get_alarms().'])),
        'the memory alarm raised',
        30_000,
      );
      await writeFile(release, '');
      await worker.waitFor(
        /warning: the broker is blocking publishers: low on memory\. Replies and retry\/failed copies wait/,
        {
          stream: 'stderr',
          timeoutMs: 30_000,
        },
      );
      expect(worker.stdout()).not.toMatch(/processed "job"/);
      await scene.node.ctl(['set_vm_memory_high_watermark', '0.4']);
      cleared = true;
      await worker.waitFor(/the broker resumed taking messages after/, {
        stream: 'stderr',
        timeoutMs: 30_000,
      });
      await worker.waitFor(/processed "job" bl-1 exit 0 .*acked/, { timeoutMs: 30_000 });
      worker.signal('SIGINT');
      const result = await worker.finished();
      expect(result.exitCode, result.stderr).toBe(0);
      expect((await queueState(url, replies))?.messageCount).toBe(1);
    } finally {
      if (!cleared) await scene.node.ctl(['set_vm_memory_high_watermark', '0.4']);
    }
  }, 90_000);
});
