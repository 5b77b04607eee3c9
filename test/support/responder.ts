import * as amqp from 'amqplib';

/** What the responder's job does with one request: the reply's body and the command's exit code. */
export type Job = (
  request: amqp.ConsumeMessage,
) => { output: string; exitCode: number } | { output: string; signal: string } | null;

export interface Responder {
  /** Every request it took, in order (redelivered ones flagged by the broker). */
  readonly requests: amqp.ConsumeMessage[];
  close(): Promise<void>;
}

/**
 * A tiny worker for send --wait tests: a real amqplib consumer on the real broker that replies
 * as qtool's worker does (to reply_to through the default exchange, correlation id = the
 * request's, or its message id; body = the job's output; x-qtool-exit-code, -duration-ms,
 * -worker headers), then acks. A job that returns null takes the request and never answers (a
 * job still running): it stays unacked until the responder closes or its connection goes.
 */
export async function startResponder(url: string, queue: string, job: Job): Promise<Responder> {
  const connection = await amqp.connect(url);
  connection.on('error', () => {});
  const channel = await connection.createChannel();
  channel.on('error', () => {});
  await channel.assertQueue(queue, { durable: true });
  await channel.prefetch(1);
  const requests: amqp.ConsumeMessage[] = [];
  await channel.consume(queue, (request) => {
    if (request === null) return;
    requests.push(request);
    const result = job(request);
    if (result === null) return;
    const { replyTo, correlationId, messageId } = request.properties;
    channel.sendToQueue(String(replyTo), Buffer.from(result.output), {
      correlationId: correlationId ?? messageId,
      headers: {
        ...('signal' in result
          ? { 'x-qtool-signal': result.signal }
          : { 'x-qtool-exit-code': result.exitCode }),
        'x-qtool-duration-ms': 12,
        'x-qtool-worker': 'test-responder',
      },
    });
    channel.ack(request);
  });
  return {
    requests,
    close: () => connection.close().catch(() => {}),
  };
}
