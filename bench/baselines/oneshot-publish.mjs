// Baseline: the least a program can do to send one message safely with amqplib. Connect, open a
// confirm channel, declare the queue, publish, wait for the confirm, close.
// Usage: node oneshot-publish.mjs URL QUEUE BODY
import amqp from 'amqplib';

const [url, queue, body] = process.argv.slice(2);
const connection = await amqp.connect(url);
const channel = await connection.createConfirmChannel();
await channel.assertQueue(queue, { durable: true });
channel.sendToQueue(queue, Buffer.from(body));
await channel.waitForConfirms();
await connection.close();
