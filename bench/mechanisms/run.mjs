// Throughput of the reconnection mechanisms qtool could build on, on a bulk send and receive.
//
//   node bench/mechanisms/run.mjs [amqp-url] [--rounds 5] [--messages 100000] [--json out.json]
//
// Publish: N persistent ~100-byte messages into a durable queue with publisher confirms, at most
// 512 unconfirmed at once. Consume: N messages with manual acks and prefetch 200. Every variant
// runs once per round, in an order that rotates each round; the report gives medians, min-max and
// the ratio of each median to the plain-amqplib median. See docs/reconnection.md.

import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import amqp from 'amqplib';
import { loadConnectionManager, maskUrl, median, parseArgs, repoAmqplibVersion } from './lib.mjs';

const { positional, options } = parseArgs(process.argv.slice(2));
const url = positional[0] ?? process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/%2F';
const rounds = Number(options.rounds ?? 5);
const measuredCount = Number(options.messages ?? 100_000);
/** Messages per run: measuredCount, except during the untimed warm-up round. */
let count = measuredCount;
const WINDOW = 512;
const PREFETCH = 200;
const BODY_BYTES = 100;
const QUEUE = 'qtool-bench-mechanisms';

const acm = loadConnectionManager();

/** A fresh ~100-byte body per message, as a sender reading its input would have. */
function bodyFor(i) {
  const body = Buffer.alloc(BODY_BYTES, 0x2e);
  body.write(`message ${i} `);
  return body;
}

/** A counting semaphore: wait() until fewer than `limit` are outstanding. */
function makeWindow(limit) {
  let outstanding = 0;
  let waiter = null;
  const wakeUp = () => {
    if (waiter !== null) {
      const resolve = waiter;
      waiter = null;
      resolve();
    }
  };
  return {
    async acquire() {
      while (outstanding >= limit) await new Promise((resolve) => (waiter = resolve));
      outstanding++;
    },
    release() {
      outstanding--;
      wakeUp();
    },
    async drained() {
      while (outstanding > 0) await new Promise((resolve) => (waiter = resolve));
    },
  };
}

/**
 * The windowed confirm loop on an amqplib ConfirmChannel. With `retain`, each body and its
 * properties stay in a Map until confirmed: what a sender that republishes unconfirmed messages
 * after a reconnect has to keep (amqplib already keeps one callback per message).
 */
async function publishOnConfirmChannel(channel, retain) {
  const window = makeWindow(WINDOW);
  const retained = retain ? new Map() : null;
  let failed = 0;
  for (let i = 0; i < count; i++) {
    await window.acquire();
    const body = bodyFor(i);
    const properties = { persistent: true };
    if (retained !== null) retained.set(i, { body, properties });
    const hasRoom = channel.sendToQueue(QUEUE, body, properties, (error) => {
      if (error) failed++;
      retained?.delete(i);
      window.release();
    });
    if (!hasRoom) await once(channel, 'drain');
  }
  await window.drained();
  if (failed > 0 || (retained !== null && retained.size > 0))
    throw new Error(`${failed} messages not confirmed`);
}

async function consumeOnChannel(channel, guarded) {
  await channel.prefetch(PREFETCH);
  // The hand-written link's guard: a delivery remembers its channel's generation and is acked
  // only while that channel is still the current one (never on a replacement channel).
  const generation = 1;
  const currentGeneration = () => generation;
  let received = 0;
  let resolveDone;
  const done = new Promise((resolve) => (resolveDone = resolve));
  await channel.consume(
    QUEUE,
    (message) => {
      if (message === null) return;
      if (guarded) {
        const delivery = { message, generation };
        if (delivery.generation === currentGeneration()) channel.ack(delivery.message);
      } else channel.ack(message);
      if (++received === count) resolveDone();
    },
    { noAck: false },
  );
  await done;
}

// Each variant: setup() opens what it needs (untimed), run() is timed, teardown() closes.
const publishVariants = {
  'plain amqplib': () => plainPublish(false),
  'plain amqplib, retaining bodies': () => plainPublish(true),
  'amqplib recovery': recoveryPublish,
  'amqp-connection-manager': acmPublish,
};

const consumeVariants = {
  'plain amqplib': () => plainConsume(false),
  'plain amqplib, generation-guarded acks': () => plainConsume(true),
  'amqplib recovery': recoveryConsume,
  'amqp-connection-manager': acmConsume,
};

async function plainPublish(retain) {
  const model = await amqp.connect(url);
  const channel = await model.createConfirmChannel();
  return {
    run: () => publishOnConfirmChannel(channel, retain),
    teardown: () => model.close(),
  };
}

async function plainConsume(guarded) {
  const model = await amqp.connect(url);
  const channel = await model.createChannel();
  return { run: () => consumeOnChannel(channel, guarded), teardown: () => model.close() };
}

const RECOVERY = { initialDelay: 100, maxDelay: 5_000 };

async function recoveryPublish() {
  const model = await amqp.connect(url, { recovery: RECOVERY });
  const channel = await model.createConfirmChannel();
  return { run: () => publishOnConfirmChannel(channel, false), teardown: () => model.close() };
}

async function recoveryConsume() {
  const model = await amqp.connect(url, { recovery: RECOVERY });
  const channel = await model.createChannel();
  return { run: () => consumeOnChannel(channel, false), teardown: () => model.close() };
}

async function acmPublish() {
  const manager = acm.connect([url]);
  const wrapper = manager.createChannel({
    confirm: true,
    setup: (channel) => channel.assertQueue(QUEUE, { durable: true }),
  });
  await wrapper.waitForConnect();
  return {
    async run() {
      const window = makeWindow(WINDOW);
      let failed = 0;
      for (let i = 0; i < count; i++) {
        await window.acquire();
        wrapper.sendToQueue(QUEUE, bodyFor(i), { persistent: true }).then(
          () => window.release(),
          () => {
            failed++;
            window.release();
          },
        );
      }
      await window.drained();
      if (failed > 0) throw new Error(`${failed} messages not confirmed`);
    },
    teardown: () => manager.close(),
  };
}

async function acmConsume() {
  const manager = acm.connect([url]);
  const wrapper = manager.createChannel({ confirm: false });
  await wrapper.waitForConnect();
  return {
    async run() {
      let received = 0;
      let resolveDone;
      const done = new Promise((resolve) => (resolveDone = resolve));
      await wrapper.consume(
        QUEUE,
        (message) => {
          wrapper.ack(message);
          if (++received === count) resolveDone();
        },
        { prefetch: PREFETCH },
      );
      await done;
    },
    teardown: () => manager.close(),
  };
}

/** Admin work on its own connection: reset the queue, fill it for a consume run. */
async function withAdmin(work) {
  const model = await amqp.connect(url);
  try {
    return await work(model);
  } finally {
    await model.close();
  }
}

async function resetQueue() {
  await withAdmin(async (model) => {
    const channel = await model.createChannel();
    await channel.assertQueue(QUEUE, { durable: true });
    await channel.purgeQueue(QUEUE);
  });
}

async function fillQueue() {
  await resetQueue();
  await withAdmin(async (model) => {
    const channel = await model.createConfirmChannel();
    await publishOnConfirmChannel(channel, false);
    const { messageCount } = await channel.checkQueue(QUEUE);
    if (messageCount !== count) throw new Error(`queue holds ${messageCount}, expected ${count}`);
  });
}

async function timeOne(kind, name, makeVariant) {
  if (kind === 'publish') await resetQueue();
  else await fillQueue();
  const variant = await makeVariant();
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  await variant.run();
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await variant.teardown();
  if (kind === 'publish') {
    const depth = await withAdmin(
      async (model) => (await (await model.createChannel()).checkQueue(QUEUE)).messageCount,
    );
    if (depth !== count) throw new Error(`${name}: queue holds ${depth} after publishing ${count}`);
  }
  const rate = count / seconds;
  // Client CPU per message: what the mechanism itself costs, and far less disturbed than the
  // wall-clock rate when other processes share the machine (the broker's work is the same for all).
  const cpuMicros = (cpu.user + cpu.system) / count;
  console.error(
    `  ${kind.padEnd(7)} ${name.padEnd(40)} ${Math.round(rate).toString().padStart(7)} msg/s ${cpuMicros.toFixed(1).padStart(6)} µs CPU/msg`,
  );
  return { rate, cpuMicros };
}

async function main() {
  console.error(
    `broker ${maskUrl(url)}, ${count} messages, ${rounds} rounds, node ${process.version}, amqplib ${repoAmqplibVersion()}`,
  );
  const results = { publish: {}, consume: {} };
  for (const name of Object.keys(publishVariants)) results.publish[name] = [];
  for (const name of Object.keys(consumeVariants)) results.consume[name] = [];

  // One untimed round with fewer messages first, so the JIT warm-up lands on no variant's figures.
  console.error('warm-up round (not counted)');
  count = Math.min(measuredCount, 10_000);
  for (const [kind, variants] of [
    ['publish', publishVariants],
    ['consume', consumeVariants],
  ]) {
    for (const [name, make] of Object.entries(variants)) await timeOne(kind, name, make);
  }
  count = measuredCount;

  for (let round = 0; round < rounds; round++) {
    console.error(`round ${round + 1}/${rounds}`);
    for (const [kind, variants] of [
      ['publish', publishVariants],
      ['consume', consumeVariants],
    ]) {
      const names = Object.keys(variants);
      // Rotate the order so no variant always runs first (cold) or last.
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const name of order) results[kind][name].push(await timeOne(kind, name, variants[name]));
    }
  }
  await withAdmin(async (model) => (await model.createChannel()).deleteQueue(QUEUE));

  const lines = [
    '| operation | variant | median msg/s | min-max msg/s | rate vs plain | client CPU µs/msg (median) | CPU vs plain |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const kind of ['publish', 'consume']) {
    const baseRate = median(results[kind]['plain amqplib'].map((r) => r.rate));
    const baseCpu = median(results[kind]['plain amqplib'].map((r) => r.cpuMicros));
    for (const [name, runs] of Object.entries(results[kind])) {
      const rates = runs.map((r) => r.rate);
      const rate = median(rates);
      const cpu = median(runs.map((r) => r.cpuMicros));
      const range = `${Math.round(Math.min(...rates))}-${Math.round(Math.max(...rates))}`;
      lines.push(
        `| ${kind} | ${name} | ${Math.round(rate)} | ${range} | ${(rate / baseRate).toFixed(2)} | ${cpu.toFixed(1)} | ${(cpu / baseCpu).toFixed(2)} |`,
      );
    }
  }
  console.log(lines.join('\n'));
  if (typeof options.json === 'string') {
    writeFileSync(
      options.json,
      `${JSON.stringify({ node: process.version, count, rounds, window: WINDOW, prefetch: PREFETCH, results }, null, 2)}\n`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
