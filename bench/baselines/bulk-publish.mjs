// Baseline: a minimal bulk publisher with windowed confirms, as one would hand-write it with
// amqplib: persistent messages, at most WINDOW unconfirmed, waiting for 'drain' when the socket
// is full. With `ids`, each message also carries a message id (crypto.randomUUID()) and is published
// mandatory, as qtool's are: the same work as qtool send, done by hand. `id` and `mandatory` add one
// of the two, to tell their costs apart (BENCHMARKS.md, "RabbitMQ 3.10 and the mandatory flag").
// Usage: node bulk-publish.mjs URL QUEUE COUNT [BODY] [WINDOW] [ids|id|mandatory]
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';

const [url, queue, countText, body = 'x', windowText = '512', extras] = process.argv.slice(2);
const withId = extras === 'ids' || extras === 'id';
const mandatory = extras === 'ids' || extras === 'mandatory';
const count = Number(countText);
const window = Number(windowText);
const connection = await amqp.connect(url);
const channel = await connection.createConfirmChannel();
await channel.assertQueue(queue, { durable: true });
const content = Buffer.from(body);
let outstanding = 0;
let wake = null;
const settle = () => {
  outstanding -= 1;
  if (wake !== null && outstanding < window) {
    const resume = wake;
    wake = null;
    resume();
  }
};
for (let sent = 0; sent < count; sent++) {
  if (outstanding >= window) await new Promise((resolve) => (wake = resolve));
  outstanding += 1;
  const options = withId
    ? { persistent: true, mandatory, messageId: randomUUID() }
    : { persistent: true, mandatory };
  const writable = channel.sendToQueue(queue, content, options, (error) => {
    if (error) throw error;
    settle();
  });
  if (!writable) await new Promise((resolve) => channel.once('drain', resolve));
}
await channel.waitForConfirms();
await connection.close();
