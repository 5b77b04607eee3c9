// Baseline: a minimal consumer with manual acks and prefetch 200 that writes each body as a line
// to standard output and acks it, until COUNT messages. Usage: node consume.mjs URL QUEUE COUNT
import amqp from 'amqplib';

const [url, queue, countText] = process.argv.slice(2);
const count = Number(countText);
const connection = await amqp.connect(url);
const channel = await connection.createChannel();
await channel.prefetch(200);
let received = 0;
await new Promise((resolve) => {
  channel.consume(queue, (message) => {
    if (message === null || received >= count) return;
    received += 1;
    process.stdout.write(message.content);
    process.stdout.write('\n');
    channel.ack(message);
    if (received === count) resolve();
  });
});
await connection.close();
