import { type ConnectionSettings, hostAndPort } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { shellQuote } from '../output/format.js';
import { explainTlsError } from './explain-tls.js';
import { STREAM_CONSUMER_NOTE, STREAM_CONSUMER_RULE } from './queue-type.js';

/** What amqplib and Node's sockets put on their errors. */
interface RawError {
  message?: unknown;
  code?: unknown;
}

/** A broker close, taken apart: `404 (NOT-FOUND) with message "NOT_FOUND - no queue 'x' in vhost '/'"`. */
export interface BrokerClose {
  replyCode: number;
  /** The broker's own words, without the `NOT_FOUND - ` prefix. */
  text: string;
}

/** Reads the reply code and text out of an amqplib close error, if it is one. */
export function parseBrokerClose(error: unknown): BrokerClose | null {
  const message = String((error as RawError | null)?.message ?? '');
  const match = /(\d{3}) \([A-Z_-]+\) with message "(.*)"/s.exec(message);
  if (!match) return null;
  const text = (match[2] as string).replace(/^[A-Z_]+ - /, '');
  return { replyCode: Number(match[1]), text };
}

/** The few facts that make an error message useful. */
export type ErrorContext = Pick<ConnectionSettings, 'hostname' | 'port' | 'vhost' | 'username'> &
  Partial<Pick<ConnectionSettings, 'ca' | 'servername' | 'protocol'>>;

const START_BROKER_HINT =
  "Is RabbitMQ running there? Start one with `qtool broker start` (or `docker compose up -d` in qtool's folder), or check --host and --port.";

/**
 * The one mapping from amqplib and socket errors to plain messages. Anything it does not
 * recognise still becomes a QtoolError carrying the broker's own words, never a stack trace.
 */
export function explainAmqpError(error: unknown, context: ErrorContext): QtoolError {
  if (error instanceof QtoolError) return error;
  const raw = (error ?? {}) as RawError;
  const message = String(raw.message ?? error);
  const where = hostAndPort(context);
  const options = { cause: error };
  const tls = explainTlsError(raw.code, message, context);
  if (tls !== null)
    return new QtoolError(tls.message, { ...options, ...(tls.hint ? { hint: tls.hint } : {}) });

  switch (raw.code) {
    case 'ECONNREFUSED':
      return new QtoolError(`cannot connect to RabbitMQ at ${where}: connection refused`, {
        ...options,
        hint: START_BROKER_HINT,
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new QtoolError(`unknown host '${context.hostname}': the name does not resolve`, {
        ...options,
        hint: 'Check --host (or QTOOL_HOST / AMQP_URL) for a typo.',
      });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new QtoolError(`cannot reach ${where}: no route to the host`, {
        ...options,
        hint: START_BROKER_HINT,
      });
    case 'ECONNRESET':
    case 'EPIPE':
      return new QtoolError(`the connection to ${where} was reset`, {
        ...options,
        hint: 'The broker went away, or this port is not AMQP (RabbitMQ listens on 5672, or 5671 for amqps).',
      });
  }
  if (raw.code === 'QTOOL_NO_REPLY') {
    const { waitingFor, timeoutMs } = error as { waitingFor?: unknown; timeoutMs?: unknown };
    return new QtoolError(
      `the broker at ${where} did not answer within ${Number(timeoutMs) / 1000} s while qtool was ${String(waitingFor)}, so qtool dropped the connection`,
      {
        ...options,
        hint: 'The broker is frozen or overloaded, or the network to it is down: check it with `qtool status`. What the broker confirmed before stands.',
      },
    );
  }
  if (/ETIMEDOUT/.test(message)) {
    return new QtoolError(`no answer from ${where} within 10 seconds`, {
      ...options,
      hint: START_BROKER_HINT,
    });
  }
  if (
    /Socket closed abruptly during opening handshake|Frame size \d+ exceeds|Expected ConnectionStart/.test(
      message,
    )
  ) {
    return new QtoolError(`the server at ${where} hung up during the AMQP handshake`, {
      ...options,
      hint: 'Is this a RabbitMQ AMQP port (5672, or 5671 for amqps)? A management port (15672) will not do.',
    });
  }
  if (/Heartbeat timeout/.test(message)) {
    return new QtoolError(`lost the connection to ${where}: heartbeats stopped (heartbeat time-out)`, {
      ...options,
      hint: 'The broker or this process stopped answering for two heartbeat intervals. Raise --heartbeat, or keep the process from blocking.',
    });
  }
  // amqplib drops the broker's words when it refuses connection.open; in RabbitMQ that refusal
  // is always about the vhost: missing, or not permitted for this user.
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(message)) {
    return new QtoolError(
      `cannot open vhost '${context.vhost}' as user '${context.username}': it does not exist, or the user has no permission for it`,
      {
        ...options,
        hint:
          'Check --vhost (in the lab your vhost is your user name). An administrator can create it with ' +
          `\`rabbitmqctl add_vhost ${shellQuote(context.vhost)}\` and grant access with ` +
          `\`rabbitmqctl set_permissions -p ${shellQuote(context.vhost)} ${shellQuote(context.username)} ".*" ".*" ".*"\`.`,
      },
    );
  }
  if (/Unexpected close/.test(message)) {
    return new QtoolError(`the connection to ${where} was closed unexpectedly`, options);
  }

  const close = parseBrokerClose(error);
  if (close) return explainBrokerClose(close, context, error);
  return new QtoolError(message, options);
}

function explainBrokerClose(close: BrokerClose, context: ErrorContext, cause: unknown): QtoolError {
  const { replyCode, text } = close;
  const options = { cause };
  const vhost = `'${context.vhost}'`;
  const user = `'${context.username}'`;

  if (replyCode === 403 && /Login was refused|authentication/i.test(text)) {
    return new QtoolError(`the broker refused the login for user ${user}: wrong username or password`, {
      ...options,
      hint: 'Check --username and --password (or QTOOL_USERNAME / QTOOL_PASSWORD).',
    });
  }
  if (replyCode === 530 || (replyCode === 403 && /access to vhost/.test(text))) {
    if (/not found/.test(text)) {
      return new QtoolError(`vhost ${vhost} does not exist on ${hostAndPort(context)}`, {
        ...options,
        hint: 'Check --vhost (in the lab your vhost is your user name); an administrator creates one with `rabbitmqctl add_vhost NAME`.',
      });
    }
    if (/access to vhost/.test(text) || /refused/.test(text)) {
      return new QtoolError(`user ${user} is not allowed to use vhost ${vhost}`, {
        ...options,
        hint: `Check --vhost, or ask an administrator: rabbitmqctl set_permissions -p ${shellQuote(context.vhost)} ${shellQuote(context.username)} ".*" ".*" ".*"`,
      });
    }
  }
  if (replyCode === 403) {
    return new QtoolError(`permission denied: ${text}`, {
      ...options,
      hint: `User ${user} lacks the permission for this in vhost ${vhost}; an administrator can change it with rabbitmqctl set_permissions.`,
    });
  }
  if (replyCode === 320) {
    if (/shutdown/.test(text)) {
      // What becomes of unacknowledged messages depends on the ack mode, the queue's durability and
      // each message's persistence, which only the command knows: it adds that sentence itself.
      return new QtoolError('the broker closed the connection: it is shutting down', {
        ...options,
        hint: 'Wait for the broker to come back, then run the command again.',
      });
    }
    return new QtoolError(`the broker closed the connection: ${text}`, options);
  }
  if (
    replyCode === 406 &&
    /acknowledgement.*timed out|consumer_timeout|delivery acknowledgement/i.test(text)
  ) {
    return new QtoolError(
      'the broker closed the channel: a message was not acknowledged within its consumer timeout',
      {
        ...options,
        hint: 'The message goes back to the queue. Make the work shorter, or raise consumer_timeout on the broker (30 minutes by default).',
      },
    );
  }
  if (replyCode === 406 && /message size .* larger than/i.test(text)) {
    const sizes = /message size (\d+) is larger than (?:configured )?max size (\d+)/.exec(text);
    const detail = sizes ? `${sizes[1]} bytes; the broker accepts at most ${sizes[2]}` : text;
    return new QtoolError(`the broker refused a message as too large (${detail})`, {
      ...options,
      hint: "Send smaller messages, or raise the broker's max_message_size.",
    });
  }
  if (replyCode === 541 && /transient_nonexcl_queues/.test(text)) {
    return new QtoolError('this broker refuses non-durable queues (deprecated since RabbitMQ 4.3)', {
      ...options,
      hint: 'Drop --no-durable: qtool creates durable queues by default.',
    });
  }
  const stream =
    (replyCode === 406 && /consumer prefetch count is not set for 'queue '(.*)' in vhost/s.exec(text)) ||
    (replyCode === 540 &&
      /automatic acknowledgement not supported by stream queues queue '(.*)' in vhost/s.exec(text));
  if (stream) {
    return new QtoolError(`queue '${stream[1]}' is a stream: ${STREAM_CONSUMER_RULE}`, {
      ...options,
      hint: `Run again with --acknowledge --prefetch n (e.g. --prefetch 100). ${STREAM_CONSUMER_NOTE}`,
    });
  }
  if (replyCode === 404 && /no exchange/.test(text)) {
    const name = /no exchange '([^']*)'/.exec(text)?.[1] ?? '';
    return new QtoolError(`exchange '${name}' does not exist in vhost ${vhost}`, {
      ...options,
      hint: 'Declare it first, or leave out --exchange to use the default exchange.',
    });
  }
  if (replyCode === 404 && /no queue/.test(text)) {
    const name = /no queue '([^']*)'/.exec(text)?.[1] ?? '';
    return new QtoolError(`queue '${name}' does not exist in vhost ${vhost}`, options);
  }
  return new QtoolError(`the broker said: ${text} (${replyCode})`, options);
}

/** True for the error of a connection the broker closed because it is shutting down (320). */
export function isBrokerShutdown(error: unknown): boolean {
  const cause = error instanceof QtoolError ? error.cause : error;
  const close = parseBrokerClose(cause);
  return close?.replyCode === 320 && /shutdown/.test(close.text);
}
