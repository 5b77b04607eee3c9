import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalNode } from '../../src/broker/local-node.js';
import { uniqueName } from '../support/broker.js';
import { jsonLines, type RunningCli, runCli, startCli } from '../support/cli.js';
import { canStartTestNodes, startTestNode } from '../support/nodes.js';

/**
 * `watch` through a broker restart, on a node of this file's own (a restart would disturb every
 * other test on the shared broker). The node has no management plugin, and the watch is told
 * --no-management as well, so AMQP is its only source: while the broker is down nothing answers.
 */

interface WatchSample {
  ts: string;
  source: string;
  queues: { name: string; ready: number | null; consumers: number | null }[];
}

describe.skipIf(!canStartTestNodes()).sequential('watch when the broker restarts', () => {
  let node: LocalNode;
  let env: Record<string, string>;
  const running: RunningCli[] = [];

  /** A watch of `queue` as JSON lines, ended by the test or by afterAll. */
  const startWatch = (queue: string, extra: string[] = []) => {
    const watch = startCli(['watch', queue, '--json', '--interval', '0.2', '--no-management', ...extra], {
      env,
    });
    running.push(watch);
    return watch;
  };

  beforeAll(async () => {
    node = await startTestNode();
    env = { AMQP_URL: node.url };
  }, 120_000);

  afterAll(async () => {
    for (const watch of running) {
      watch.signal('SIGKILL');
      await watch.finished(5_000).catch(() => {});
    }
    await node?.stop();
  }, 120_000);

  it('rides through it: says the broker went and came back, and shows figures from after the restart', async () => {
    const queue = uniqueName('watch-restart');
    const sent = await runCli(['send', '--queue', queue, '--persistent', 'a', 'b'], { env });
    expect(sent.exitCode, sent.stderr).toBe(0);
    const watch = startWatch(queue);
    await watch.waitFor(/"ready":2,/);

    await node.restart();

    await watch.waitFor(/the broker is back/, { stream: 'stderr', timeoutMs: 60_000 });
    const afterBack = watch.stdout().length;
    const more = await runCli(['send', '--queue', queue, '--persistent', 'c', 'd', 'e'], { env });
    expect(more.exitCode, more.stderr).toBe(0);
    // The two persistent messages survived the restart; three more came after it.
    await watch.waitFor(/"ready":5,/, { timeoutMs: 20_000 });
    const samplesAfter = jsonLines<WatchSample>(watch.stdout().slice(afterBack));
    expect(samplesAfter.some((sample) => sample.source === 'amqp' && sample.queues[0]?.ready === 5)).toBe(
      true,
    );
    // While it was down, samples went on, saying that no source answered and knowing no figure.
    const down = jsonLines<WatchSample>(watch.stdout()).filter((sample) => sample.source === 'none');
    expect(down.length).toBeGreaterThan(0);
    expect(down.every((sample) => sample.queues[0]?.ready === null)).toBe(true);

    const stderr = watch.stderr();
    expect(stderr.match(/connection lost: /g), stderr).toHaveLength(1);
    expect(stderr).toMatch(/reconnecting\. Until then the broker is unreachable: no figures\./);
    expect(stderr.match(/the broker is back: reconnected to amqp:\/\/\S+ after /g), stderr).toHaveLength(1);
    expect(stderr).toMatch(/reconnects so far: 1; live AMQP figures again/);
    expect(watch.process.exitCode, 'the watch is still running').toBeNull();

    watch.signal('SIGINT');
    const result = await watch.finished(20_000);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 180_000);

  it('--no-reconnect: the restart ends the watch with exit 1 and a plain message', async () => {
    const queue = uniqueName('watch-noreconnect');
    const watch = startWatch(queue, ['--no-reconnect']);
    await watch.waitFor(/"source":"amqp"/);

    await node.restart();

    const result = await watch.finished(60_000);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/shutting down|connection .* (closed|reset|lost)/);
    expect(result.stderr).not.toMatch(/reconnecting|the broker is back/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(jsonLines<WatchSample>(result.stdout).every((sample) => sample.source === 'amqp')).toBe(true);
  }, 180_000);

  it('--reconnect-timeout: gives up with exit 1 when the broker is not back in time', async () => {
    const queue = uniqueName('watch-timeout');
    const watch = startWatch(queue, ['--reconnect-timeout', '0.5']);
    await watch.waitFor(/"source":"amqp"/);

    // A restart keeps the broker away for seconds: far longer than half a second.
    await node.restart();

    const result = await watch.finished(60_000);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/gave up reconnecting after .* \(--reconnect-timeout\)/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 180_000);
});
