import { type ChildProcess, execFileSync, type StdioOptions, spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  createReadStream,
  existsSync,
  openSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, queueState, withChannel } from '../support/amqp.js';
import { closeConnectionsOf, testBroker, uniqueName } from '../support/broker.js';
import { childEnv, QTOOL_BIN } from '../support/cli.js';

/**
 * What `qtool receive` does with messages when its output closes or it is stopped mid-stream:
 * nothing printed is lost track of, nothing unprinted is acked, and what it says is exact.
 */
const broker = testBroker();
const env = childEnv({ AMQP_URL: broker.amqpUrl });
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'qtool-receive-safety-'));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** Puts `bodies` in a new queue with amqplib directly, and waits until the broker holds them all. */
async function seed(queue: string, bodies: Iterable<string>): Promise<number> {
  let count = 0;
  await withChannel(broker.amqpUrl, async (channel) => {
    await channel.assertQueue(queue, { durable: true });
    for (const body of bodies) {
      count += 1;
      if (!channel.sendToQueue(queue, Buffer.from(body))) {
        await new Promise((resolve) => channel.once('drain', resolve));
      }
    }
    // A round trip after the publishes, so none is still in amqplib's buffer when the connection closes.
    await channel.checkQueue(queue);
  });
  await eventually(
    async () => (await queueState(broker.amqpUrl, queue))?.messageCount === count,
    `${count} messages in ${queue}`,
  );
  return count;
}

function* kilobyteMessages(count: number) {
  for (let n = 1; n <= count; n += 1) yield `${n} `.padEnd(1024, 'x');
}

function* numbers(count: number) {
  for (let n = 1; n <= count; n += 1) yield String(n);
}

async function ready(queue: string): Promise<number> {
  const state = await queueState(broker.amqpUrl, queue);
  if (state === null) throw new Error(`queue ${queue} is gone`);
  return state.messageCount;
}

/** A child process (in a process group of its own) with its stderr collected. */
function start(command: string, args: string[], stdio: StdioOptions) {
  const child: ChildProcess = spawn(command, args, { env, stdio, detached: true });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stderr: () => stderr,
    /** The exit code; kills the whole group (sh and its pipeline) if it has not ended by then. */
    async finished(timeoutMs: number): Promise<number | null> {
      const timer = setTimeout(() => killGroup(child), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    killGroup: () => killGroup(child),
  };
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * `qtool receive ARGS | { head -1; sleep 3; }`: a reader that takes one line, then stops reading
 * for 3 s before it goes away. qtool's exit status comes out on stderr as `qtool exit N`.
 */
async function receiveIntoStalledHead(queue: string, args: string[]) {
  const qtool = [process.execPath, QTOOL_BIN, 'receive', '--queue', queue, ...args]
    .map((word) => `'${word}'`)
    .join(' ');
  const pipeline = start(
    'sh',
    ['-c', `{ ${qtool}; echo "qtool exit $?" >&2; } | { head -1 >/dev/null; sleep 3; }`],
    ['ignore', 'ignore', 'pipe'],
  );
  const code = await pipeline.finished(40_000);
  return { code, stderr: pipeline.stderr() };
}

/**
 * The account receive gives when its output (a pipe) closed: [handed to the output, not written].
 * "Handed", never "printed": `head` throws away what it did not read of the pipe's buffer.
 */
function outputClosedAccount(stderr: string, fate: 'returned to the queue' | 'lost'): [number, number] {
  const pattern = new RegExp(
    `output closed: ([\\d,]+) messages? handed to the output \\(a reader that stops early may not have read them all\\)${
      fate === 'lost' ? '' : ' and acked'
    }, ([\\d,]+) not written (?:was|were) ${fate === 'lost' ? 'lost \\(auto-ack' : 'returned to the queue'}`,
  );
  const match = pattern.exec(stderr);
  if (match === null) throw new Error(`no account of the closed output in:\n${stderr}`);
  return [Number(match[1]?.replace(/,/g, '')), Number(match[2]?.replace(/,/g, ''))];
}

describe('qtool receive when the reader of its output stops reading, then goes away', () => {
  it('with --acknowledge acks only what it wrote, and returns the rest to the queue', async () => {
    const queue = uniqueName('stalled-ack');
    const total = await seed(queue, kilobyteMessages(3000));
    const { code, stderr } = await receiveIntoStalledHead(queue, ['--acknowledge']);
    expect(code).toBe(0);
    expect(stderr).toMatch(/qtool exit 0/);
    const left = await ready(queue);
    // At most a 64 KiB pipe buffer and head's read (a few KiB) of 1 KiB lines can have been taken.
    expect(left).toBeGreaterThanOrEqual(2800);
    const [printed, returned] = outputClosedAccount(stderr, 'returned to the queue');
    expect(printed + left).toBe(total);
    expect(returned).toBeGreaterThan(0);
    expect(returned).toBeLessThanOrEqual(left);
  });

  it('with --count does not flush its held-back acks on a closed output', async () => {
    const queue = uniqueName('stalled-count');
    const total = await seed(queue, kilobyteMessages(3000));
    const { code, stderr } = await receiveIntoStalledHead(queue, ['--count', '2000']);
    expect(code).toBe(0);
    const left = await ready(queue);
    expect(left).toBeGreaterThanOrEqual(2800);
    const [printed] = outputClosedAccount(stderr, 'returned to the queue');
    expect(printed + left).toBe(total);
  });

  it('with auto-ack says exactly how many messages it had been handed and could not write: lost', async () => {
    const queue = uniqueName('stalled-autoack');
    const total = await seed(queue, kilobyteMessages(3000));
    const { code, stderr } = await receiveIntoStalledHead(queue, []);
    expect(code).toBe(0);
    const [printed, lost] = outputClosedAccount(stderr, 'lost');
    expect(lost).toBeGreaterThan(0);
    expect(printed + lost + (await ready(queue))).toBe(total);
  });
});

describe.skipIf(!existsSync('/dev/full'))('qtool receive when writing fails for another reason', () => {
  it('exits 1 naming the error, and acks nothing it could not write', async () => {
    const queue = uniqueName('full-disk');
    await seed(queue, numbers(5));
    const out = openSync('/dev/full', 'w');
    const receiver = start(
      process.execPath,
      [QTOOL_BIN, 'receive', '--queue', queue, '--count', '2'],
      ['ignore', out, 'pipe'],
    );
    closeSync(out);
    expect(await receiver.finished(30_000)).toBe(1);
    expect(receiver.stderr()).toMatch(
      /qtool: could not write to standard output \(ENOSPC\): 0 messages printed and acked, 2 not written were returned to the queue/,
    );
    expect(await ready(queue)).toBe(5);
  });
});

describe('qtool receive stopped with Ctrl-C while messages stream in', () => {
  for (const [mode, args] of [
    ['auto-ack', []],
    ['--acknowledge', ['--acknowledge']],
  ] as const) {
    it(`${mode}: every message is either printed once or still in the queue`, async () => {
      const queue = uniqueName('stream');
      const total = await seed(queue, numbers(100_000));
      const path = join(folder, `${queue}.txt`);
      const out = openSync(path, 'w');
      const receiver = start(
        process.execPath,
        [QTOOL_BIN, 'receive', '--queue', queue, ...args],
        ['ignore', out, 'pipe'],
      );
      closeSync(out);
      try {
        await eventually(() => /Waiting for messages/.test(receiver.stderr()), 'the banner');
        await eventually(() => statSync(path).size > 0, 'the first lines');
        receiver.child.kill('SIGINT');
        expect(await receiver.finished(30_000), receiver.stderr()).toBe(0);
      } finally {
        receiver.killGroup();
      }
      const lines = readFileSync(path, 'utf8')
        .split('\n')
        .filter((line) => line !== '');
      expect(new Set(lines).size).toBe(lines.length);
      const left = await ready(queue);
      // Stopped mid-stream, not after the end: otherwise this proves nothing.
      expect(left).toBeGreaterThan(0);
      expect(lines.length + left).toBe(total);
    });
  }
});

describe('qtool receive stopping while its output is stuck', () => {
  it('says it waits for the output, and a second Ctrl-C stops at once with an account of what goes back', async () => {
    const queue = uniqueName('stuck');
    const total = await seed(queue, kilobyteMessages(3000));
    // stdout is a named pipe that is open for reading but never read: it takes 64 KiB, then waits.
    const fifo = join(folder, `${queue}.fifo`);
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, 'w');
    const receiver = start(
      process.execPath,
      [QTOOL_BIN, 'receive', '--queue', queue, '--acknowledge'],
      ['ignore', writer, 'pipe'],
    );
    closeSync(writer);
    try {
      await eventually(() => /Waiting for messages/.test(receiver.stderr()), 'the banner');
      await eventually(async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 0, 'delivery');
      receiver.child.kill('SIGINT');
      await eventually(
        () => /Waiting for the output to take [\d,]+ more lines/.test(receiver.stderr()),
        'notice',
      );
      expect(receiver.stderr()).toMatch(/Ctrl-C to stop at once \(they go back to the queue\)/);
      receiver.child.kill('SIGINT');
      expect(await receiver.finished(30_000)).toBe(130);
    } finally {
      receiver.killGroup();
      closeSync(reader);
    }
    const match = /Stopped at once: ([\d,]+) messages not written go back to the queue/.exec(
      receiver.stderr(),
    );
    expect(match, receiver.stderr()).not.toBeNull();
    const notWritten = Number(match?.[1]?.replace(/,/g, ''));
    await eventually(
      async () => (await ready(queue)) === notWritten,
      `${notWritten} messages back in the queue`,
    );
    // What the pipe buffer took: at most 64 lines of 1 KiB.
    expect(total - notWritten).toBeLessThanOrEqual(64);
  });
});

/** The count before "messages? PATTERN" in stderr (thousands separators allowed); 0 when absent. */
function counted(stderr: string, pattern: string): number {
  const match = new RegExp(`([\\d,]+) messages? ${pattern}`).exec(stderr);
  return match === null ? 0 : Number(match[1]?.replace(/,/g, ''));
}

describe.skipIf(!broker.hasCtl)('qtool receive when the broker closes its connection mid-run', () => {
  it('--count prints nothing that goes back to the queue, says what does, and exits 1', async () => {
    const queue = uniqueName('conn-lost');
    const total = await seed(
      queue,
      (function* () {
        for (let n = 1; n <= 100; n += 1) yield `${n} `.padEnd(20 * 1024, 'x');
      })(),
    );
    // stdout is a named pipe nobody reads yet: it takes 64 KiB (3 lines), the rest waits in qtool.
    const fifo = join(folder, `${queue}.fifo`);
    execFileSync('mkfifo', [fifo]);
    const idleReader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, 'w');
    const receiver = start(
      process.execPath,
      [QTOOL_BIN, 'receive', '--queue', queue, '--count', '100'],
      ['ignore', writer, 'pipe'],
    );
    closeSync(writer);
    let lines = 0;
    try {
      await eventually(() => /Waiting for messages/.test(receiver.stderr()), 'the banner');
      await eventually(async () => (await ready(queue)) === 0, 'all 100 delivered');
      expect(await closeConnectionsOf(broker.ctl, receiver.child.pid)).toBe(1);
      await eventually(() => /Ended early/.test(receiver.stderr()), 'the account', 20_000);
      // Only now read the pipe: everything qtool still writes after the account arrives here.
      const reading = new Promise<number>((resolve, reject) => {
        let newlines = 0;
        createReadStream(fifo)
          .on('data', (chunk) => {
            for (const byte of chunk as Buffer) if (byte === 0x0a) newlines += 1;
          })
          .on('end', () => resolve(newlines))
          .on('error', reject);
      });
      expect(await receiver.finished(30_000), receiver.stderr()).toBe(1);
      lines = await reading;
    } finally {
      receiver.killGroup();
      closeSync(idleReader);
    }
    const stderr = receiver.stderr();
    expect(stderr).toMatch(/qtool: the broker closed the connection: .*test kill/);
    const printedNotAcked = counted(
      stderr,
      'handed to the output but not acked go(?:es)? back to the queue and will be redelivered',
    );
    const beingWritten = counted(
      stderr,
      'still being written \\(they may reach the output too\\) go(?:es)? back to the queue',
    );
    const notWritten = counted(stderr, 'not written go(?:es)? back to the queue');
    expect(printedNotAcked + beingWritten + notWritten, stderr).toBe(total);
    // The reader got what the account says was handed over, and nothing that was dropped.
    expect(lines).toBeGreaterThanOrEqual(printedNotAcked);
    expect(lines).toBeLessThanOrEqual(printedNotAcked + beingWritten);
    expect(notWritten).toBeGreaterThan(0);
    await eventually(async () => (await ready(queue)) === total, `all ${total} back in the queue`);
  });

  it('auto-ack still writes every message it was handed, and says nothing was lost', async () => {
    const queue = uniqueName('conn-lost-autoack');
    const total = await seed(queue, numbers(50));
    const receiver = start(
      process.execPath,
      [QTOOL_BIN, 'receive', '--queue', queue, '--no-reconnect'],
      ['ignore', 'pipe', 'pipe'],
    );
    let stdout = '';
    receiver.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    try {
      await eventually(() => stdout.split('\n').length > total, 'every message printed');
      expect(await closeConnectionsOf(broker.ctl, receiver.child.pid)).toBe(1);
      expect(await receiver.finished(30_000), receiver.stderr()).toBe(1);
    } finally {
      receiver.killGroup();
    }
    expect(receiver.stderr()).toMatch(/qtool: the broker closed the connection/);
    expect(receiver.stderr()).not.toMatch(/Ended early/);
    expect(stdout.split('\n').filter((line) => line !== '')).toHaveLength(total);
  });
});

describe('bodies that are not text', () => {
  it('reach standard output byte for byte, NUL and invalid UTF-8 included', async () => {
    const queue = uniqueName('binary');
    const body = Buffer.from([0x00, 0xff, 0xfe, 0x41, 0xc3, 0x28, 0x0d, 0x80, 0x7f]);
    await withChannel(broker.amqpUrl, async (channel) => {
      await channel.assertQueue(queue, { durable: true });
      channel.sendToQueue(queue, body);
      await channel.checkQueue(queue);
    });
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 1,
      'the message',
    );
    const out = execFileSync(process.execPath, [QTOOL_BIN, 'receive', '--queue', queue, '--count', '1'], {
      env,
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 30_000,
    });
    // Decoding to text and back would have turned 0xff, 0xfe, 0x80 and the bad pair into U+FFFD.
    expect(out).toEqual(Buffer.concat([body, Buffer.from('\n')]));
  });
});
