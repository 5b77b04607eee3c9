import * as amqp from 'amqplib';

/** Direct amqplib access for tests: seeding and inspecting queues independently of qtool. */
export async function withChannel<T>(url: string, work: (channel: amqp.Channel) => Promise<T>): Promise<T> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    return await work(channel);
  } finally {
    await connection.close().catch(() => {});
  }
}

/** The version a broker reports when a client connects (its server properties), e.g. `4.0.5`. */
export async function brokerVersion(url: string): Promise<string> {
  const connection = await amqp.connect(url);
  try {
    return connection.connection.serverProperties.version;
  } finally {
    await connection.close().catch(() => {});
  }
}

/** Ready messages and consumers of a queue, or null when it does not exist. */
export async function queueState(
  url: string,
  queue: string,
): Promise<{ messageCount: number; consumerCount: number } | null> {
  try {
    return await withChannel(url, async (channel) => {
      const { messageCount, consumerCount } = await channel.checkQueue(queue);
      return { messageCount, consumerCount };
    });
  } catch (error) {
    if ((error as { code?: number }).code === 404) return null;
    throw error;
  }
}

/** Takes every ready message off a queue (acking them), with their properties. */
export async function takeMessages(url: string, queue: string): Promise<amqp.GetMessage[]> {
  return withChannel(url, async (channel) => {
    const taken: amqp.GetMessage[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (message === false) return taken;
      taken.push(message);
    }
  });
}

/** Takes every ready message off a queue (acking them) and returns their bodies. */
export async function drain(url: string, queue: string): Promise<string[]> {
  return (await takeMessages(url, queue)).map((message) => message.content.toString());
}

/**
 * Publishes one message straight with amqplib to a queue that must exist, so a test does not
 * depend on what qtool's own send sets. The second check is a round trip after the publish: the
 * broker has routed the message when it answers.
 */
export async function publishTo(
  url: string,
  queue: string,
  body: string,
  options: amqp.Options.Publish = {},
): Promise<void> {
  await withChannel(url, async (channel) => {
    await channel.checkQueue(queue);
    channel.sendToQueue(queue, Buffer.from(body), options);
    await channel.checkQueue(queue);
  });
}

/** Ready messages in a queue, or null when it does not exist. */
export async function readyCount(url: string, queue: string): Promise<number | null> {
  return (await queueState(url, queue))?.messageCount ?? null;
}

export async function deleteQueue(url: string, queue: string): Promise<void> {
  await withChannel(url, (channel) => channel.deleteQueue(queue)).catch(() => {});
}

/** Polls `probe` until it returns true, failing with `what` after `timeoutMs`. */
export async function eventually(
  probe: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
