// Memory a sender holds per message it may have to republish, without a broker.
//
//   node --expose-gc bench/mechanisms/memory.mjs [--messages 100000]
//
// amqp-connection-manager: messages handed to ChannelWrapper.sendToQueue while it is not
// connected (it never is here: the URL points at a closed port), each a queued record plus the
// promise returned to the caller. Once sent, the same record moves to _unconfirmedMessages and
// amqplib adds its confirm callback. Retaining Map: what a hand-written republishing sender keeps,
// body + properties per sequence number (amqplib's confirm callback comes on top for both).

import { loadConnectionManager, parseArgs } from './lib.mjs';

if (typeof global.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const { options } = parseArgs(process.argv.slice(2));
const count = Number(options.messages ?? 100_000);
const acm = loadConnectionManager();

function usedBytes() {
  global.gc();
  global.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

const bodyFor = (i) => {
  const body = Buffer.alloc(100, 0x2e);
  body.write(`message ${i} `);
  return body;
};

async function measure(label, fill) {
  const before = usedBytes();
  const keep = await fill();
  const after = usedBytes();
  const perMessage = (after - before) / count;
  console.log(`${label.padEnd(52)} ${perMessage.toFixed(0).padStart(5)} bytes/message (body 100 bytes)`);
  return keep;
}

const bodiesOnly = await measure('bodies alone (Buffer of 100 bytes each)', () =>
  Array.from({ length: count }, (_, i) => bodyFor(i)),
);
bodiesOnly.length = 0;

const retained = await measure('retaining Map: seq -> { body, properties }', () => {
  const map = new Map();
  for (let i = 0; i < count; i++) map.set(i, { body: bodyFor(i), properties: { persistent: true } });
  return map;
});
retained.clear();

const manager = acm.connect(['amqp://guest:guest@127.0.0.1:1'], { reconnectTimeInSeconds: 3_600 });
manager.on('connectFailed', () => {});
const wrapper = manager.createChannel({ confirm: true });
const promises = await measure('amqp-connection-manager: queued sendToQueue', () => {
  const list = [];
  for (let i = 0; i < count; i++) {
    const promise = wrapper.sendToQueue('q', bodyFor(i), { persistent: true });
    promise.catch(() => {});
    list.push(promise);
  }
  return list;
});
console.log(`(${promises.length} promises held by the caller are included in that figure)`);
// No close(): called while its connect attempt is still in flight, amqp-connection-manager's
// close() waits for that attempt and then for a full reconnect delay (an hour here).
process.exit(0);
