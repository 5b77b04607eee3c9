import { AMQP_NAME_MAX_BYTES, controlCharacterIn } from '../config/values.js';
import { UsageError } from '../errors.js';

/** Where `qtool send` publishes, checked before any connection is made. */
export interface SendTarget {
  /** '' is the default exchange, which routes by queue name. */
  exchange: string;
  routingKey: string;
  /** How the summary names it: `queue 'hello'`, or `exchange 'logs' (routing key 'info')`. */
  destination: string;
}

/**
 * Resolves --exchange and --routing-key (the routing key defaults to the queue) and refuses what
 * the broker would misread or amqplib would reject with a raw TypeError:
 * - an empty routing key through the default exchange: to queue.declare an empty name means "make
 *   up a name", so qtool would create a server-named queue nobody reads and leave it behind;
 * - names over AMQP's 255 bytes;
 * - control characters in an exchange name (a stray newline or tab from a script's quoting).
 * With a named exchange, an empty routing key is legitimate: a fanout exchange ignores the key,
 * and a direct or topic exchange can bind one.
 */
export function resolveSendTarget(
  exchangeOption: string | undefined,
  routingKeyOption: string | undefined,
  queue: string,
): SendTarget {
  const exchange = exchangeOption ?? '';
  const routingKey = routingKeyOption ?? queue;
  // Whichever option the routing key came from is the one to fix.
  const keyOption = routingKeyOption === undefined ? '--queue' : '--routing-key';

  const control = controlCharacterIn(exchange);
  if (control !== null) {
    throw new UsageError(
      `--exchange ${JSON.stringify(exchange)} contains a control character (${control}); exchange names are printable text`,
      'Check how the name is quoted, e.g. a line end left over from a script.',
    );
  }
  checkShortString(exchange, '--exchange', 'an exchange name');
  checkShortString(routingKey, keyOption, exchange === '' ? 'a queue name' : 'a routing key');
  if (exchange === '' && routingKey === '') {
    throw new UsageError(
      "--routing-key is empty, but through the default exchange the routing key is the queue's name",
      `Leave out --routing-key to send to the queue '${queue}', give a queue name, or publish to a named --exchange.`,
    );
  }
  const destination =
    exchange === '' ? `queue '${routingKey}'` : `exchange '${exchange}' (routing key '${routingKey}')`;
  return { exchange, routingKey, destination };
}

function checkShortString(value: string, option: string, what: string): void {
  const bytes = Buffer.byteLength(value);
  // AMQP 0-9-1 carries exchange names and routing keys as short strings: a length byte, then the bytes.
  if (bytes > AMQP_NAME_MAX_BYTES) {
    throw new UsageError(
      `${option} is ${bytes} bytes long, but AMQP allows at most ${AMQP_NAME_MAX_BYTES} bytes for ${what}`,
      'Use a shorter name.',
    );
  }
}
