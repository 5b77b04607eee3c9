// Baseline: the least a program can do to send one message safely with amqplib. Connect, open a
// confirm channel, declare the queue, publish, wait for the confirm, close.
// Usage: node oneshot-publish.mjs URL QUEUE BODY [nodelay]
// With `nodelay`, the socket has TCP_NODELAY as qtool's have (amqplib's default is without): for
// the bench's reference row, which tells what of qtool's lead is that one setting.
import amqp from 'amqplib';

const [url, queue, body, option] = process.argv.slice(2);
const connection = await amqp.connect(url, { noDelay: option === 'nodelay' });
const channel = await connection.createConfirmChannel();
await channel.assertQueue(queue, { durable: true });
channel.sendToQueue(queue, Buffer.from(body));
await channel.waitForConfirms();
await connection.close();
