// Behaviour probes: checks, against a real broker, the claims about amqp-connection-manager and
// amqplib's `recovery` option that docs/reconnection.md relies on.
//
//   node bench/mechanisms/probe.mjs [amqp-url] [--only name,name]
//
// Connection loss and a frozen broker are simulated with a TCP proxy in this process (lib.mjs),
// so the broker itself is never disturbed. Each probe is bounded in time and prints one JSON
// line of observations; nothing is asserted, the reader judges.

import { once } from 'node:events';
import amqp from 'amqplib';
import { loadConnectionManager, parseArgs, sleep, TcpProxy, withHostPort, within } from './lib.mjs';

const { positional, options } = parseArgs(process.argv.slice(2));
const url = positional[0] ?? process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/%2F';
const only = typeof options.only === 'string' ? new Set(options.only.split(',')) : null;
const acm = loadConnectionManager();
const brokerUrl = new URL(url);

function badPasswordUrl() {
  const parsed = new URL(url);
  parsed.password = 'certainly-not-the-password';
  return parsed.toString();
}

function missingVhostUrl() {
  const parsed = new URL(url);
  parsed.pathname = '/qtool-probe-no-such-vhost';
  return parsed.toString();
}

async function proxied() {
  return new TcpProxy(brokerUrl.hostname, Number(brokerUrl.port || 5672)).listen();
}

async function admin(work) {
  const model = await amqp.connect(url);
  try {
    const channel = await model.createChannel();
    return await work(channel);
  } finally {
    await model.close();
  }
}

async function freshQueue(name, messages = 0) {
  const model = await amqp.connect(url);
  try {
    const channel = await model.createConfirmChannel();
    await channel.deleteQueue(name);
    await channel.assertQueue(name, { durable: true });
    for (let i = 0; i < messages; i++) channel.sendToQueue(name, Buffer.from(`m${i}`), { persistent: true });
    await channel.waitForConfirms();
  } finally {
    await model.close();
  }
}

async function publishConfirmed(queue, text) {
  const model = await amqp.connect(url);
  try {
    const channel = await model.createConfirmChannel();
    channel.sendToQueue(queue, Buffer.from(text), { persistent: true });
    await channel.waitForConfirms();
  } finally {
    await model.close();
  }
}

const queueDepth = (name) => admin(async (channel) => (await channel.checkQueue(name)).messageCount);

const probes = {
  /** ACM on a permanent failure: does connect() give up, do retries stop, at what pace? */
  async 'acm-permanent-failures'() {
    const out = {};
    for (const [label, target] of [
      ['wrong password', badPasswordUrl()],
      ['missing vhost', missingVhostUrl()],
    ]) {
      const manager = acm.connect([target], { reconnectTimeInSeconds: 0.25 });
      const failures = [];
      const started = Date.now();
      manager.on('connectFailed', ({ err }) =>
        failures.push({ at: Date.now() - started, message: err.message }),
      );
      const outcome = await manager.connect({ timeout: 3_000 }).then(
        () => 'connected',
        (error) => `rejected after ${Date.now() - started} ms: ${error.message}`,
      );
      const failuresAtOutcome = failures.length;
      await sleep(2_000);
      out[label] = {
        connectOutcome: outcome,
        attemptsBeforeOutcome: failuresAtOutcome,
        attemptsInTheNext2s: failures.length - failuresAtOutcome,
        gapsMs: failures.slice(1, 6).map((f, i) => f.at - failures[i].at),
        firstError: failures[0]?.message,
      };
      await manager.close();
    }
    return out;
  },

  /** amqplib recovery on a permanent failure: retried until maxRetries, with which delays? */
  async 'recovery-permanent-failures'() {
    const out = {};
    for (const [label, target] of [
      ['wrong password', badPasswordUrl()],
      ['missing vhost', missingVhostUrl()],
    ]) {
      const model = await amqp.connect(target, {
        recovery: { initialDelay: 100, maxDelay: 800, waitForConnect: false },
      });
      const delays = [];
      let failed = 0;
      let firstError;
      model.on('connect-failed', (error) => {
        failed++;
        firstError ??= error.message;
      });
      model.on('reconnect-scheduled', ({ delay }) => delays.push(delay));
      const first = await within(
        3_000,
        model.waitForConnect().then(
          () => 'connected',
          (e) => `rejected: ${e.message}`,
        ),
        'still waiting after 3 s',
      );
      out[label] = { waitForConnect: first, attemptsIn3s: failed, delaysMs: delays, firstError };
      await model.close();
    }
    // With a retry budget the first connect does fail, after the budget is spent.
    const started = Date.now();
    const bounded = await amqp
      .connect(badPasswordUrl(), { recovery: { initialDelay: 100, maxDelay: 400, initialMaxRetries: 3 } })
      .then(
        (model) => {
          model.close();
          return 'connected';
        },
        (e) => `rejected after ${Date.now() - started} ms (initialMaxRetries 3): ${e.message}`,
      );
    out['wrong password, initialMaxRetries 3'] = bounded;
    return out;
  },

  /**
   * ACM: what happens to publishes in flight when the connection drops? Resent after the
   * reconnect (promise resolves), or rejected?
   */
  async 'acm-unconfirmed-at-connection-loss'() {
    const queue = 'qtool-probe-unconfirmed';
    await freshQueue(queue);
    const proxy = await proxied();
    const manager = acm.connect([withHostPort(url, '127.0.0.1', proxy.port)], {
      reconnectTimeInSeconds: 0.25,
    });
    const wrapper = manager.createChannel({
      setup: (channel) => channel.assertQueue(queue, { durable: true }),
    });
    await wrapper.waitForConnect();
    const total = 20_000;
    let resolved = 0;
    const rejections = new Map();
    let inFlight = 0;
    let wake = null;
    const settle = () => {
      inFlight--;
      if (wake) {
        const w = wake;
        wake = null;
        w();
      }
    };
    let dropped = false;
    let reconnects = 0;
    wrapper.on('connect', () => reconnects++);
    for (let i = 0; i < total; i++) {
      while (inFlight >= 512) await new Promise((r) => (wake = r));
      inFlight++;
      wrapper.sendToQueue(queue, Buffer.from(`message ${i}`), { persistent: true }).then(
        () => {
          resolved++;
          settle();
        },
        (error) => {
          rejections.set(error.message, (rejections.get(error.message) ?? 0) + 1);
          settle();
        },
      );
      if (!dropped && resolved >= 3_000) {
        dropped = true;
        proxy.drop();
      }
    }
    await within(
      20_000,
      (async () => {
        while (inFlight > 0) await new Promise((r) => (wake = r));
      })(),
      null,
    );
    await manager.close();
    await proxy.close();
    const depth = await queueDepth(queue);
    await admin((channel) => channel.deleteQueue(queue));
    return {
      published: total,
      resolved,
      rejected: Object.fromEntries(rejections),
      stillPending: inFlight,
      reconnects,
      queueDepth: depth,
    };
  },

  /**
   * ACM: a channel the broker closes while the connection stays up (what consumer_timeout or an
   * ack of an unknown delivery tag does). Is the channel recreated, and what do other users of the
   * connection see?
   */
  async 'acm-channel-level-close'() {
    const queue = 'qtool-probe-channel-close';
    await freshQueue(queue);
    const manager = acm.connect([url], { reconnectTimeInSeconds: 0.25 });
    let disconnects = 0;
    const disconnectErrors = [];
    manager.on('disconnect', ({ err }) => {
      disconnects++;
      disconnectErrors.push(err?.message);
    });
    const received = [];
    const consumer = manager.createChannel({ confirm: false });
    const bystander = manager.createChannel({
      setup: (channel) => channel.assertQueue(queue, { durable: true }),
    });
    const errors = [];
    consumer.on('error', (error) => errors.push(error.message));
    await consumer.waitForConnect();
    await bystander.waitForConnect();
    await consumer.consume(queue, (message) => received.push(message.content.toString()), { prefetch: 10 });
    // An ack for a delivery tag this channel never handed out: the broker closes the channel (406).
    consumer.ack({ fields: { deliveryTag: 999 } });
    await sleep(1_500);
    const afterClose = { disconnects };
    const confirmed = await within(
      5_000,
      bystander.sendToQueue(queue, Buffer.from('after the channel error'), { persistent: true }).then(
        () => 'confirmed',
        (e) => `rejected: ${e.message}`,
      ),
      'no confirm within 5 s',
    );
    await sleep(500);
    await manager.close();
    await admin((channel) => channel.deleteQueue(queue));
    return {
      connectionDisconnectsAfterChannelError: afterClose.disconnects,
      disconnectErrors,
      bystanderPublish: confirmed,
      consumerReceivedAfterwards: received,
      channelErrorsEmitted: errors,
    };
  },

  /**
   * ACM: a delivery received before a reconnect, acked after it. Which channel gets the ack, and
   * what does it acknowledge?
   */
  async 'acm-stale-ack-after-reconnect'() {
    return {
      'stale ack sent': await staleAckRun(true),
      'control, no stale ack': await staleAckRun(false),
      note: 'depth 0 with the stale ack, 1 without: it acknowledged the redelivered copy the application never finished',
    };
  },

  /** amqplib recovery: after a reconnect, what is left of a channel and its consumer? */
  async 'recovery-channels-after-reconnect'() {
    const queue = 'qtool-probe-recovery-channel';
    await freshQueue(queue);
    const proxy = await proxied();
    const model = await amqp.connect(withHostPort(url, '127.0.0.1', proxy.port), {
      recovery: { initialDelay: 100, maxDelay: 1_000 },
    });
    model.on('error', () => {});
    const connects = [];
    model.on('connect', (underlying) => connects.push(typeof underlying?.connection?.stream?.destroy));
    const channel = await model.createChannel();
    let channelClosed = false;
    channel.on('close', () => (channelClosed = true));
    channel.on('error', () => {});
    const received = [];
    await channel.consume(queue, (message) => message && received.push(message.content.toString()), {
      noAck: true,
    });
    proxy.drop();
    const reconnected = await within(
      5_000,
      waitFor(() => connects.length >= 1),
      false,
    );
    const oldChannelUsable = await channel.checkQueue(queue).then(
      () => 'yes',
      (e) => `no: ${e.message}`,
    );
    await publishConfirmed(queue, 'after the reconnect');
    await sleep(1_000);
    const newChannel = await model.createChannel();
    const consumersOnQueue = (await newChannel.checkQueue(queue)).consumerCount;
    await model.close();
    await proxy.close();
    await admin((channel) => channel.deleteQueue(queue));
    return {
      reconnected,
      connectEventGivesTheUnderlyingModel:
        connects[0] === 'function' ? 'yes (its socket is reachable)' : connects[0],
      oldChannelClosed: channelClosed,
      oldChannelUsable,
      oldConsumerReceivedAfterReconnect: received,
      consumersOnQueueAfterReconnect: consumersOnQueue,
    };
  },

  /** close() on each mechanism while the broker is frozen (proxy forwards nothing). */
  async 'close-on-frozen-broker'() {
    const out = {};
    const heartbeat = 2;
    const attempts = {
      'plain amqplib': async (target) => {
        const model = await amqp.connect(`${target}?heartbeat=${heartbeat}`);
        model.on('error', () => {});
        await model.createChannel();
        return () => model.close();
      },
      'amqplib recovery': async (target) => {
        const model = await amqp.connect(`${target}?heartbeat=${heartbeat}`, {
          recovery: { initialDelay: 100, maxDelay: 1_000 },
        });
        model.on('error', () => {});
        await model.createChannel();
        return () => model.close();
      },
      'amqp-connection-manager': async (target) => {
        const manager = acm.connect([target], { heartbeatIntervalInSeconds: heartbeat });
        const wrapper = manager.createChannel({ confirm: true });
        await wrapper.waitForConnect();
        return () => manager.close();
      },
    };
    for (const [label, open] of Object.entries(attempts)) {
      const proxy = await proxied();
      const close = await open(withHostPort(url, '127.0.0.1', proxy.port));
      proxy.freeze();
      const started = Date.now();
      out[label] = await within(
        15_000,
        close().then(
          () => `resolved after ${Date.now() - started} ms`,
          (e) => `rejected after ${Date.now() - started} ms: ${e.message}`,
        ),
        `still pending after 15 s (heartbeat ${heartbeat} s)`,
      );
      await proxy.close();
    }
    return out;
  },

  /** ACM with two URLs, the first frozen: does it ever move on to the second? */
  async 'acm-failover-past-frozen-node'() {
    const out = {};
    for (const [label, connectionOptions] of [
      ['no connect timeout (default)', undefined],
      ['connectionOptions.timeout 1000 ms', { timeout: 1_000 }],
    ]) {
      const proxy = await proxied();
      proxy.freeze();
      const manager = acm.connect([withHostPort(url, '127.0.0.1', proxy.port), url], {
        reconnectTimeInSeconds: 0.25,
        ...(connectionOptions ? { connectionOptions } : {}),
      });
      const started = Date.now();
      const connectedTo = await within(
        12_000,
        once(manager, 'connect').then(
          ([{ url: reached }]) => `connected after ${Date.now() - started} ms to ${new URL(reached).port}`,
        ),
        'not connected after 12 s',
      );
      out[label] = connectedTo;
      // close() waits for a connect attempt in progress, which a frozen node never finishes.
      out[`${label}: close()`] = await within(
        3_000,
        manager.close().then(() => 'closed'),
        'close() still pending after 3 s',
      );
      await proxy.close();
    }
    return out;
  },
};

/**
 * One message, prefetch 1: delivered, the connection drops, ACM reconnects and the message is
 * redelivered. With `ackOld`, the first delivery is then acked through the wrapper; finally the
 * manager closes without acking the redelivered copy, which should put it back in the queue.
 */
async function staleAckRun(ackOld) {
  const queue = 'qtool-probe-stale-ack';
  await freshQueue(queue, 1);
  const proxy = await proxied();
  const manager = acm.connect([withHostPort(url, '127.0.0.1', proxy.port)], { reconnectTimeInSeconds: 0.25 });
  const wrapper = manager.createChannel({ confirm: false });
  const deliveries = [];
  await wrapper.waitForConnect();
  await wrapper.consume(queue, (message) => deliveries.push(message), { prefetch: 1 });
  const firstArrived = await within(
    3_000,
    waitFor(() => deliveries.length >= 1),
    false,
  );
  proxy.drop();
  const redelivered = await within(
    5_000,
    waitFor(() => deliveries.length >= 2),
    false,
  );
  const [old, fresh] = deliveries;
  // The application finishes the message it was working on before the drop and acks it.
  if (ackOld && old !== undefined) wrapper.ack(old);
  await sleep(500);
  await manager.close();
  await proxy.close();
  const depthAfterClose = await queueDepth(queue);
  await admin((channel) => channel.deleteQueue(queue));
  return {
    firstArrived,
    redelivered,
    oldDeliveryTag: old?.fields.deliveryTag,
    redeliveredTag: fresh?.fields.deliveryTag,
    redeliveredFlag: fresh?.fields.redelivered,
    queueDepthAfterClose: depthAfterClose,
  };
}

function waitFor(predicate) {
  return (async () => {
    while (!predicate()) await sleep(20);
    return true;
  })();
}

async function main() {
  for (const [name, probe] of Object.entries(probes)) {
    if (only !== null && !only.has(name)) continue;
    const started = Date.now();
    let result;
    try {
      result = await probe();
    } catch (error) {
      result = { probeFailed: error.message };
    }
    console.log(JSON.stringify({ probe: name, seconds: (Date.now() - started) / 1000, result }));
  }
}

main().then(
  // Probes deliberately leave libraries hanging (frozen sockets, pending closes): end here.
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
