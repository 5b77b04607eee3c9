import { describe, expect, it } from 'vitest';
import { NoReplyError } from '../../src/amqp/close.js';
import { explainAmqpError, isBrokerShutdown, parseBrokerClose } from '../../src/amqp/explain.js';

const context = { hostname: 'rabbit', port: 5672, vhost: 'student1', username: 'student1' };
const brokerError = (code: number, constant: string, text: string) =>
  Object.assign(new Error(`Channel closed by server: ${code} (${constant}) with message "${text}"`), {
    code,
  });

describe('parseBrokerClose', () => {
  it('reads the code and the broker words without the constant prefix', () => {
    expect(parseBrokerClose(brokerError(404, 'NOT-FOUND', "NOT_FOUND - no queue 'q' in vhost '/'"))).toEqual({
      replyCode: 404,
      text: "no queue 'q' in vhost '/'",
    });
  });
});

describe('explainAmqpError', () => {
  it('names host and port for a refused connection and suggests starting a broker', () => {
    const error = explainAmqpError(
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      context,
    );
    expect(error.message).toContain('rabbit:5672');
    expect(error.hint).toContain('docker compose up -d');
    expect(error.hint).toContain('qtool broker start');
    expect(error.exitCode).toBe(1);
  });

  it('explains a wrong password without showing it', () => {
    const error = explainAmqpError(
      new Error(
        'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."',
      ),
      context,
    );
    expect(error.message).toMatch(/wrong username or password/);
  });

  it.each([
    [
      '3.10',
      "PRECONDITION_FAILED - consumer prefetch count is not set for 'queue 'events' in vhost 'student1''",
    ],
    [
      '4.0',
      "PRECONDITION_FAILED - consumer prefetch count is not set for stream queue 'events' in vhost 'student1'",
    ],
  ])('explains a stream consumer without a prefetch in the words of RabbitMQ %s', (_version, text) => {
    const error = explainAmqpError(brokerError(406, 'PRECONDITION-FAILED', text), context);
    expect(error.message).toMatch(/^queue 'events' is a stream: /);
    expect(error.hint).toMatch(/--acknowledge --prefetch/);
  });

  it('explains the consumer timeout', () => {
    const error = explainAmqpError(
      brokerError(
        406,
        'PRECONDITION-FAILED',
        'PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 1800000 ms. This timeout value can be configured, see consumers doc guide to learn more',
      ),
      context,
    );
    expect(error.message).toMatch(/consumer timeout/);
  });

  it('explains an oversized message with both sizes', () => {
    const error = explainAmqpError(
      brokerError(
        406,
        'PRECONDITION-FAILED',
        'PRECONDITION_FAILED - message size 20000000 is larger than configured max size 16777216',
      ),
      context,
    );
    expect(error.message).toContain('20000000 bytes');
    expect(error.message).toContain('16777216');
  });

  it('explains RabbitMQ 4.3 refusing a non-durable queue', () => {
    const error = explainAmqpError(
      Object.assign(
        new Error(
          'Connection closed: 541 (INTERNAL-ERROR) with message "INTERNAL_ERROR - Feature `transient_nonexcl_queues` is deprecated."',
        ),
        { code: 541 },
      ),
      context,
    );
    expect(error.hint).toMatch(/--no-durable/);
  });

  it('explains a broker shutdown', () => {
    const error = explainAmqpError(
      Object.assign(
        new Error(
          'Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - broker forced connection closure with reason \'shutdown\'"',
        ),
        { code: 320 },
      ),
      context,
    );
    expect(error.message).toMatch(/shutting down/);
    // What becomes of unacked messages is the command's to say: it knows the ack mode and more.
    expect(error.hint).toBe('Wait for the broker to come back, then run the command again.');
    expect(isBrokerShutdown(error)).toBe(true);
  });

  it('explains a connection qtool dropped because the broker stopped answering', () => {
    const error = explainAmqpError(new NoReplyError('closing a channel', 5000), context);
    expect(error.message).toBe(
      'the broker at rabbit:5672 did not answer within 5 s while qtool was closing a channel, so qtool dropped the connection',
    );
    expect(error.hint).toMatch(/qtool status/);
    expect(isBrokerShutdown(error)).toBe(false);
  });

  it('keeps the broker words for anything it does not know', () => {
    const error = explainAmqpError(
      brokerError(406, 'PRECONDITION-FAILED', 'PRECONDITION_FAILED - something new'),
      context,
    );
    expect(error.message).toContain('something new');
  });
});
