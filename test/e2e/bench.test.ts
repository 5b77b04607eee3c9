import { afterAll, describe, expect, it } from 'vitest';
import type { LocalNode } from '../../src/broker/local-node.js';
import type { BenchSummary } from '../../src/commands/bench/report.js';
import { queueState } from '../support/amqp.js';
import { closeConnectionsOf, testBroker } from '../support/broker.js';
import { type CliResult, runCli, startCli } from '../support/cli.js';
import { canStartTestNodes, startTestNode } from '../support/nodes.js';

const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };

/** The one JSON object `--json` prints on stdout, and nothing else. */
function summaryOf(result: CliResult): BenchSummary {
  const lines = result.stdout.split('\n').filter((line) => line !== '');
  expect(lines, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toHaveLength(1);
  return JSON.parse(lines[0] as string) as BenchSummary;
}

/** The temporary queues a run names in its stderr ("deleted the temporary queue(s) a, b"). */
function deletedQueues(stderr: string): string[] {
  return [...stderr.matchAll(/deleted the temporary queues? (.+)/g)].flatMap((match) =>
    (match[1] as string).split(', '),
  );
}

async function expectGone(queues: readonly string[]): Promise<void> {
  expect(queues.length).toBeGreaterThan(0);
  for (const queue of queues) {
    expect(queue).toMatch(/^qtool-bench-[0-9a-f]{8}-\d+$/);
    expect(await queueState(broker.amqpUrl, queue), `queue ${queue} is still there`).toBeNull();
  }
}

/** Latency figures a real run can have: positive, monotonic, the max at least p99. */
function expectPlausibleLatency(summary: BenchSummary, measured: number): void {
  const latency = summary.latencyMs;
  expect(latency).not.toBeNull();
  const { count, min, p50, p95, p99, max } = latency as NonNullable<typeof latency>;
  expect(count).toBe(measured);
  expect(min).toBeGreaterThan(0);
  expect(p50).toBeGreaterThanOrEqual(min);
  expect(p95).toBeGreaterThanOrEqual(p50);
  expect(p99).toBeGreaterThanOrEqual(p95);
  expect(max).toBeGreaterThanOrEqual(p99);
  // End to end on one machine: well under a minute, whatever the load.
  expect(max).toBeLessThan(60_000);
}

describe('qtool bench', () => {
  it('with --count, confirms and acks: sent = confirmed = received = count, plausible latency, queue deleted', async () => {
    const result = await runCli(
      ['bench', '--count', '2000', '--acknowledge', '--prefetch', '100', '--json'],
      {
        env,
      },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({
      ended: 'count',
      sent: 2000,
      confirmed: 2000,
      received: 2000,
      expectedReceived: 2000,
      nacked: 0,
      returned: 0,
      unconfirmed: 0,
      problems: [],
      queuesLeft: [],
    });
    expect(summary.settings).toMatchObject({
      producers: 1,
      consumers: 1,
      queueType: 'classic',
      acknowledge: true,
      prefetch: 100,
      confirmWindow: 1000,
      count: 2000,
    });
    expect(summary.rates.sent).toBeGreaterThan(0);
    expect(summary.rates.received).toBeGreaterThan(0);
    expectPlausibleLatency(summary, 2000);
    expect(deletedQueues(result.stderr)).toEqual(summary.settings.queues);
    await expectGone(summary.settings.queues);
  });

  it('spreads producers and consumers over several quorum queues, persistent, and every message arrives once', async () => {
    const result = await runCli(
      [
        'bench',
        ...['--count', '601', '--producers', '2', '--consumers', '2', '--queues', '2'],
        ...['--queue-type', 'quorum', '--persistent', '--acknowledge', '--prefetch', '50', '--json'],
      ],
      { env },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({ sent: 601, confirmed: 601, received: 601, problems: [] });
    expect(summary.settings).toMatchObject({ queueType: 'quorum', persistent: true });
    expect(summary.settings.queues).toHaveLength(2);
    expectPlausibleLatency(summary, 601);
    await expectGone(summary.settings.queues);
  });

  it('on a stream, every consumer reads every message, and the summary counts and says so', async () => {
    const args = [
      'bench',
      '--queue-type',
      'stream',
      '--acknowledge',
      '--prefetch',
      '100',
      '--consumers',
      '2',
    ];
    const json = await runCli([...args, '--count', '300', '--json'], { env });
    expect(json.exitCode, json.stderr).toBe(0);
    const summary = summaryOf(json);
    expect(summary).toMatchObject({ sent: 300, confirmed: 300, received: 600, expectedReceived: 600 });
    expectPlausibleLatency(summary, 600);
    await expectGone(summary.settings.queues);

    const human = await runCli([...args, '--count', '100'], { env });
    expect(human.exitCode, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/1 stream queue; .*manual acks, prefetch 100/);
    expect(human.stdout).toMatch(/a stream writes every message to disk, transient or not/);
    expect(human.stdout).toMatch(/every consumer of a stream reads every message/);
    expect(human.stdout).toMatch(/received +200 /);
  });

  it('runs for --duration at --rate, with a live line each second on stderr and the summary on stdout', async () => {
    const result = await runCli(['bench', '--duration', '2', '--rate', '100'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    // Into a pipe: one plain line per second, no terminal codes.
    expect(result.stderr).toMatch(
      /^bench 1\/2 s: sent [\d.,]+\/s, confirmed [\d.,]+\/s, received [\d.,]+\/s, p50 /m,
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape codes are what we look for
    expect(result.stderr).not.toMatch(/\x1b\[/);
    expect(result.stdout).toMatch(/^qtool bench on amqp:\/\/guest@[^ ]+: 2 s in [\d.]+ s$/m);
    expect(result.stdout).toMatch(
      /1 producer, 1 consumer, 1 classic queue; 12-byte transient messages, publisher confirms \(at most 1,000 unconfirmed per producer\), auto-ack, at most 100 msg\/s per producer/,
    );
    const sent = Number((/^ {2}sent +([\d,]+)/m.exec(result.stdout)?.[1] ?? '').replace(/,/g, ''));
    // 100 msg/s for 2 s, give or take the start and a tenth of a second's burst; far below full speed.
    expect(sent).toBeGreaterThanOrEqual(120);
    expect(sent).toBeLessThanOrEqual(215);
    expect(result.stdout).toMatch(
      /^ {2}latency +p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms, max [\d.,]+ ms/m,
    );
    await expectGone(deletedQueues(result.stderr));
  });

  it('on Ctrl-C stops publishing, prints the figures so far, deletes its queue and exits 0', async () => {
    const bench = startCli(['bench', '--duration', '60', '--rate', '500', '--acknowledge', '--json'], {
      env,
    });
    await bench.waitFor(/^bench 1\/60 s: sent/m, { stream: 'stderr', timeoutMs: 30_000 });
    bench.signal('SIGINT');
    const result = await bench.finished(20_000);
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = summaryOf(result);
    expect(summary.ended).toBe('interrupted');
    expect(summary.sent).toBeGreaterThan(0);
    // The confirms of what was sent are still awaited, and at 500 msg/s the consumer keeps up.
    expect(summary.confirmed).toBe(summary.sent);
    expect(summary.received).toBe(summary.sent);
    expect(summary.elapsedMs).toBeLessThan(30_000);
    expect(summary.queuesLeft).toEqual([]);
    await expectGone(summary.settings.queues);
  });

  it('on a second Ctrl-C stops waiting for the drain, still deletes its queue, and exits 130', async () => {
    // Prefetch 1 at full speed: the consumer falls behind, so the first Ctrl-C starts a drain.
    const args = ['bench', '--duration', '60', '--acknowledge', '--prefetch', '1', '--json'];
    const bench = startCli(args, { env });
    await bench.waitFor(/^bench 1\/60 s: sent/m, { stream: 'stderr', timeoutMs: 30_000 });
    bench.signal('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    bench.signal('SIGINT');
    const result = await bench.finished(20_000);
    expect(result.exitCode, result.stderr).toBe(130);
    const summary = summaryOf(result);
    expect(summary.ended).toBe('interrupted');
    expect(summary.queuesLeft).toEqual([]);
    await expectGone(summary.settings.queues);
  });

  it.skipIf(!broker.hasCtl)(
    'when the broker closes its connections mid-run, says so, exits 1, and still deletes its queue',
    async () => {
      const bench = startCli(['bench', '--duration', '60', '--rate', '500', '--json'], { env });
      await bench.waitFor(/^bench 1\/60 s: sent/m, { stream: 'stderr', timeoutMs: 30_000 });
      // Every connection of this bench: producer, consumer and the one that declared the queue.
      expect(await closeConnectionsOf(broker.ctl, bench.process.pid)).toBe(3);
      const result = await bench.finished(20_000);
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/^qtool: .*closed.*test kill/m);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      const summary = summaryOf(result);
      expect(summary.ended).toBe('failed');
      // Deleted on a connection of its own, the run's being gone.
      expect(summary.queuesLeft).toEqual([]);
      await expectGone(summary.settings.queues);
    },
  );

  it('--compare prints one row per variant, and deletes every queue it made', async () => {
    const result = await runCli(['bench', '--compare', '--count', '200'], { env, timeoutMs: 60_000 });
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^qtool bench --compare on amqp:\/\/guest@[^ ]+: 200 messages per run; 1 producer, 1 consumer, 1 queue/,
    );
    expect(lines[1]).toMatch(/^ +full speed +latency at 1,000 msg\/s$/);
    expect(lines[2]).toMatch(
      /^variant +queue +delivery +acks +prefetch +sent\/s +received\/s +backlog +p50 ms +p95 ms +p99 ms +max ms$/,
    );
    // Every message of a --count run is received, so no backlog; every latency is measured.
    const figures = String.raw` +[\d.,]+ +[\d.,]+ +0 +[\d.,]+\*? +[\d.,]+\*? +[\d.,]+\*? +[\d.,]+\*?$`;
    expect(lines[3]).toMatch(new RegExp(`^baseline +classic +transient +manual +100${figures}`));
    expect(lines[4]).toMatch(new RegExp(`^auto-ack +classic +transient +auto +-${figures}`));
    expect(lines[5]).toMatch(new RegExp(`^prefetch 1 +classic +transient +manual +1${figures}`));
    expect(lines[6]).toMatch(new RegExp(`^persistent +classic +persistent +manual +100${figures}`));
    expect(lines[7]).toMatch(new RegExp(`^quorum queue +quorum +transient +manual +100${figures}`));
    expect(lines[8]).toMatch(/^Each row differs from the baseline/);
    // Two runs per row, each on queues of its own, every one deleted.
    const queues = deletedQueues(result.stderr);
    expect(queues).toHaveLength(10);
    await expectGone(queues);
  });

  it('refuses bad input with one line and exit 2, before touching the broker', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--count', '10', '--duration', '1'],
        /--count and --duration both say when to stop: give one of them/,
      ],
      [['--producers', '0', '--consumers', '0'], /--producers 0 and --consumers 0 leave nothing to measure/],
      [
        ['--size', '4'],
        /--size 4 is too small: each message carries its 8-byte send time \(use --size 8 or more\)/,
      ],
      [['--queue-type', 'stream'], /reading a stream needs --acknowledge and --prefetch n/],
      [['--compare', '--persistent'], /--compare sets --persistent itself/],
      [['--queue', 'hello'], /bench uses temporary queues of its own and never touches --queue/],
      [['--rate', '0'], /--rate .*expected a number greater than 0/],
    ];
    // Nothing listens on port 1: a check made after connecting would fail otherwise, with exit 1.
    const results = await Promise.all(
      cases.map(([args]) =>
        runCli(['bench', ...args], { env: { AMQP_URL: 'amqp://guest:guest@127.0.0.1:1/' } }),
      ),
    );
    results.forEach((result, index) => {
      const [args, message] = cases[index] as [string[], RegExp];
      expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.stdout).toBe('');
    });
  });

  it('says plainly when the broker cannot be reached, and leaves nothing behind', async () => {
    const result = await runCli(['bench', '--count', '10'], {
      env: { AMQP_URL: 'amqp://guest:guest@127.0.0.1:1/' },
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^qtool: cannot connect to RabbitMQ at 127\.0\.0\.1:1/m);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });
});

describe.skipIf(!canStartTestNodes())('qtool bench when its broker goes away', () => {
  let node: LocalNode | undefined;

  afterAll(async () => {
    await node?.stop();
  }, 120_000);

  it('names the temporary queue it could not delete and the command that deletes it', async () => {
    // A node of its own: stopping the shared one would disturb every other test.
    node = await startTestNode();
    const bench = startCli(['bench', '--duration', '60', '--rate', '200', '--json'], {
      env: { AMQP_URL: node.url },
    });
    await bench.waitFor(/^bench 1\/60 s: sent/m, { stream: 'stderr', timeoutMs: 30_000 });
    await node.stop();
    const result = await bench.finished(30_000);
    expect(result.exitCode, result.stderr).toBe(1);
    const summary = summaryOf(result);
    expect(summary.ended).toBe('failed');
    const [queue, ...others] = summary.settings.queues;
    expect(others).toEqual([]);
    expect(summary.queuesLeft).toEqual([queue]);
    expect(result.stderr).toContain(
      `qtool: could not delete bench's temporary queue ${queue}: it is left on the broker`,
    );
    expect(result.stderr).toContain(`  qtool delete --queue ${queue} --force`);
    expect(result.stderr).not.toMatch(/deleted the temporary queue/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 150_000);
});
