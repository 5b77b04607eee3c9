import { afterEach, describe, expect, it } from 'vitest';
import { eventually, queueState, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { jsonLines, runCli, startCli, startWorker } from '../support/cli.js';
import { type Responder, startResponder } from '../support/responder.js';

const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
let responders: Responder[] = [];

afterEach(async () => {
  await Promise.all(responders.map((responder) => responder.close()));
  responders = [];
});

/** A responder whose job is `exit N: output`: it answers with that output and exit code. */
async function scriptedResponder(queue: string): Promise<Responder> {
  const responder = await startResponder(broker.amqpUrl, queue, (request) => {
    const match = /^exit (\d+): (.*)$/s.exec(request.content.toString());
    return { output: match?.[2] ?? '', exitCode: Number(match?.[1] ?? 0) };
  });
  responders.push(responder);
  return responder;
}

describe('qtool send --wait', () => {
  it("prints the job's output and exits 0 when it did, with reply_to and correlation_id set as in the RPC tutorial", async () => {
    const queue = uniqueName('wait-ok');
    const responder = await scriptedResponder(queue);
    const result = await runCli(['send', '--queue', queue, '--wait', '--timeout', '20', 'exit 0: done\n'], {
      env,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe('done\n');
    const [request] = responder.requests;
    const { messageId, correlationId, replyTo } = request?.properties ?? {};
    expect(correlationId).toBe(messageId);
    expect(replyTo).toMatch(/^qtool\.reply\.[0-9a-f-]{36}$/);
    expect(result.stderr).toContain(`waiting for its reply on ${replyTo} for up to 20.0 s`);
    expect(result.stderr).toContain(
      `qtool: job ${messageId} done by worker test-responder in 12 ms, exit code 0`,
    );
    // The reply queue was exclusive to the sender's connection: gone with it.
    expect(await queueState(broker.amqpUrl, String(replyTo))).toBeNull();
  });

  it("exits with the job's exit code, clipped to 1..255, and says so on stderr", async () => {
    const queue = uniqueName('wait-fail');
    await scriptedResponder(queue);
    const three = await runCli(['send', '--queue', queue, '--wait', 'exit 3: half done'], { env });
    expect(three.exitCode).toBe(3);
    expect(three.stdout).toBe('half done');
    expect(three.stderr).toMatch(
      /qtool: job [0-9a-f-]{36} failed on worker test-responder in 12 ms: its command exited with code 3\n/,
    );
    const big = await runCli(['send', '--queue', queue, '--wait', 'exit 300: ?'], { env });
    expect(big.exitCode).toBe(255);
    expect(big.stderr).toMatch(/exited with code 300 \(exit status 255 here: a status is 1 to 255\)/);
  });

  it('exits 128 + the signal number for a job that was killed, and says by what', async () => {
    const queue = uniqueName('wait-killed');
    responders.push(
      await startResponder(broker.amqpUrl, queue, () => ({ output: 'partial', signal: 'SIGKILL' })),
    );
    const result = await runCli(['send', '--queue', queue, '--wait', 'sleep 600'], { env });
    expect(result.exitCode).toBe(137);
    expect(result.stdout).toBe('partial');
    expect(result.stderr).toMatch(
      /its command was killed by SIGKILL \(exit status 137 here, as a shell gives it\)/,
    );
  });

  it("names the signal when qtool's own worker killed the job (its reply carries 128 + the number as exit code)", async () => {
    const queue = uniqueName('wait-timeout');
    const worker = await startWorker(env, queue, 'w1', [
      '--acknowledge',
      '--job-timeout',
      '1',
      '--exec',
      'sh',
    ]);
    try {
      const result = await runCli(['send', '--queue', queue, '--wait', '--timeout', '30', 'exec sleep 20'], {
        env,
      });
      expect(result.exitCode).toBe(143);
      expect(result.stderr).toMatch(
        /its command was killed by SIGTERM \(exit status 143 here, as a shell gives it\)/,
      );
      expect(result.stderr).not.toMatch(/exited with code/);
    } finally {
      worker.signal('SIGINT');
      await worker.finished();
    }
  });

  it('with --json prints the confirmed line, the summary and the reply as JSON lines', async () => {
    const queue = uniqueName('wait-json');
    await scriptedResponder(queue);
    const result = await runCli(
      ['send', '--queue', queue, '--wait', '--json', '--message-id', 'j-1', 'exit 4: out'],
      {
        env,
      },
    );
    expect(result.exitCode).toBe(4);
    const lines = jsonLines(result.stdout);
    expect(lines.map((line) => line.event)).toEqual(['confirmed', 'summary', 'reply']);
    expect(lines[2]).toEqual({
      event: 'reply',
      messageId: 'j-1',
      exitCode: 4,
      signal: null,
      durationMs: 12,
      worker: 'test-responder',
      body: 'out',
    });
  });

  it('ignores a reply that carries another correlation id', async () => {
    const queue = uniqueName('wait-stray');
    const responder = await startResponder(broker.amqpUrl, queue, () => null);
    responders.push(responder);
    const sender = startCli(['send', '--queue', queue, '--wait', '--timeout', '20', 'job'], { env });
    await eventually(() => responder.requests.length === 1, 'the responder to take the request');
    const request = responder.requests[0];
    const replyTo = String(request?.properties.replyTo);
    await withChannel(broker.amqpUrl, async (channel) => {
      channel.sendToQueue(replyTo, Buffer.from('not yours'), {
        correlationId: 'someone-else',
        headers: { 'x-qtool-exit-code': 9 },
      });
      channel.sendToQueue(replyTo, Buffer.from('yours'), {
        correlationId: request?.properties.correlationId,
        headers: { 'x-qtool-exit-code': 0 },
      });
      await channel.checkQueue(queue); // a round trip: both replies are routed before closing
    });
    const result = await sender.finished(20_000);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe('yours');
  });

  it('times out with no worker: exit 1, says the job may still run, and the message stays queued', async () => {
    const queue = uniqueName('wait-none');
    const result = await runCli(['send', '--queue', queue, '--wait', '--timeout', '1', 'lonely job'], {
      env,
    });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/qtool: no reply within 1\.0 s \(--timeout\)\n/);
    expect(result.stderr).toMatch(
      /The message \(id [0-9a-f-]{36}\) was sent to queue '[^']+' and confirmed by the broker, so the job may still run/,
    );
    expect((await queueState(broker.amqpUrl, queue))?.messageCount).toBe(1);
  });

  it('Ctrl-C stops waiting: exit 130, saying the job was sent and may still run', async () => {
    const queue = uniqueName('wait-int');
    const sender = startCli(['send', '--queue', queue, '--wait', 'long job'], { env });
    await sender.waitFor(/waiting for its reply on qtool\.reply\.\S+ \(Ctrl-C stops waiting\)/, {
      stream: 'stderr',
    });
    sender.signal('SIGINT');
    const result = await sender.finished(20_000);
    expect(result.exitCode).toBe(130);
    expect(result.stderr).toMatch(/qtool: stopped waiting for the reply \(interrupted\)\n/);
    expect(result.stderr).toMatch(/so the job may still run/);
    expect((await queueState(broker.amqpUrl, queue))?.messageCount).toBe(1);
  });

  it('refuses what it cannot wait for: several messages, standard input, --no-confirm', async () => {
    const queue = uniqueName('wait-usage');
    const several = await runCli(['send', '--queue', queue, '--wait', 'a', 'b'], { env });
    expect(several.exitCode).toBe(2);
    expect(several.stderr).toMatch(/--wait is for one message, given as an argument; here: 2 messages/);
    const piped = await runCli(['send', '--queue', queue, '--wait'], { env, input: 'a\n' });
    expect(piped.exitCode).toBe(2);
    const unconfirmed = await runCli(['send', '--queue', queue, '--wait', '--no-confirm', 'a'], { env });
    expect(unconfirmed.exitCode).toBe(2);
    expect(unconfirmed.stderr).toMatch(/--wait cannot go with --no-confirm/);
    expect(await queueState(broker.amqpUrl, queue)).toBeNull();
  });
});
