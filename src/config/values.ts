import type { Endpoint } from './connection.js';
import { UsageError } from '../errors.js';

/**
 * Parsers for the values of connection settings. Each names the flag, variable or profile key
 * the text came from (`label`) and never echoes text that may hold a password.
 */

/** AMQP's shortstr: queue, exchange and vhost names, routing keys and user names fit in 255 bytes. */
export const AMQP_NAME_MAX_BYTES = 255;

/**
 * C0 and C1 control characters and DEL. A name holding one could rewrite a terminal line, or a
 * line being edited in a tmux pane (Ctrl-U erases it, a CR runs what follows), so none is accepted.
 */
const CONTROL_CHARACTER = /\p{Cc}/u;

/** The first control character in `text` as U+XXXX, or null. */
export function controlCharacterIn(text: string): string | null {
  const match = CONTROL_CHARACTER.exec(text);
  if (match === null) return null;
  return `U+${(match[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Refuses control characters in a name that will be printed or typed somewhere. */
export function refuseControlCharacters(text: string, label: string): string {
  const found = controlCharacterIn(text);
  if (found !== null) {
    throw new UsageError(
      `${label} contains a control character (${found}), which qtool does not accept in names`,
      'Type the name with printable characters only.',
    );
  }
  return text;
}

/** A name AMQP carries as a shortstr: non-empty (unless allowed), at most 255 bytes, no control characters. */
export function parseAmqpName(text: string, label: string, options: { allowEmpty?: boolean } = {}): string {
  if (text === '' && options.allowEmpty !== true) throw new UsageError(`${label} must not be empty`);
  if (Buffer.byteLength(text) > AMQP_NAME_MAX_BYTES) {
    throw new UsageError(
      `${label} is ${Buffer.byteLength(text)} bytes long; AMQP allows at most ${AMQP_NAME_MAX_BYTES}`,
    );
  }
  return refuseControlCharacters(text, label);
}

export function parseQueueName(text: string, label = '--queue'): string {
  return parseAmqpName(text, label);
}

export function parsePort(text: string, label = '--port'): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    // A port is never a secret, but the text may be `secret@host` typed into the wrong place.
    const shown = /^[\w.-]{0,20}$/.test(text) ? `'${text}'` : 'the value given';
    throw new UsageError(`${label}: ${shown} is not a port number (1-65535)`);
  }
  return port;
}

export function parseHeartbeat(text: string, label = '--heartbeat'): number {
  const seconds = /^\d{1,5}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isInteger(seconds) || seconds > 65535) {
    throw new UsageError(
      `${label}: '${text}' is not a heartbeat in whole seconds (0-65535)`,
      '0 turns heartbeats off; leave it out to accept what the broker proposes (usually 60)',
    );
  }
  return seconds;
}

/** On/off settings (--tls, --insecure) as they come from flags, variables and profiles. */
export function parseSwitch(value: string | boolean, label: string): boolean {
  if (typeof value === 'boolean') return value;
  const text = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new UsageError(
    `${label}: '${value}' is neither on nor off`,
    'Use 1, true, yes or on; or 0, false, no or off.',
  );
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`; `host` alone may be a bare IPv6 address. */
export function parseHostPort(text: string, label = '--host'): { hostname: string; port?: number } {
  if (text === '') throw new UsageError(`${label} must not be empty`);
  if (text.includes('@') || text.includes('/')) {
    // `user:password@host` typed into --host: never echo it.
    throw new UsageError(
      `${label} takes host or host:port only`,
      'Give the user with --username and the password with QTOOL_PASSWORD (or a whole --url).',
    );
  }
  refuseControlCharacters(text, label);
  if (/\s/.test(text)) throw new UsageError(`${label}: a host name cannot contain spaces`);
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    const hostname = bracketed[1] as string;
    return bracketed[2] === undefined ? { hostname } : { hostname, port: parsePort(bracketed[2], label) };
  }
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const [hostname, port] = text.split(':') as [string, string];
    if (hostname === '') throw new UsageError(`${label} has no host name before the colon`);
    return { hostname, port: parsePort(port, label) };
  }
  // Zero colons is a plain name; two or more is a bare IPv6 address.
  return { hostname: text };
}

/** `--host a,b:5673,c`: the first node, and the others to fail over to, in order. */
export function parseHostList(
  text: string,
  label = '--host',
): { hostname: string; port?: number; failover: Endpoint[] } {
  const [first, ...others] = text.split(',').map((entry, index, all) => {
    if (entry === '' && all.length > 1)
      throw new UsageError(`${label} has an empty entry in its list of hosts`);
    return parseHostPort(entry, label);
  }) as [{ hostname: string; port?: number }, ...{ hostname: string; port?: number }[]];
  return { ...first, failover: others };
}

/** The parts an AMQP URL names; absent parts are left out. */
export interface UrlParts {
  protocol: 'amqp' | 'amqps';
  hostname?: string;
  port?: number;
  username?: string;
  password?: string;
  vhost?: string;
  heartbeat?: number;
}

/**
 * Several URLs, comma-separated, name the nodes of one cluster: they may differ in host and port
 * only. Split before each scheme, so a comma inside a password stays part of it.
 */
export function parseAmqpUrls(text: string, label = '--url'): UrlParts & { failover: Endpoint[] } {
  const [first, ...others] = text.split(/,(?=amqps?:\/\/)/i).map((one) => parseAmqpUrl(one, label)) as [
    UrlParts,
    ...UrlParts[],
  ];
  const failover = others.map((other) => {
    const same = (['protocol', 'username', 'password', 'vhost', 'heartbeat'] as const).every(
      (part) => other[part] === first[part],
    );
    if (!same) {
      throw new UsageError(
        `the URLs in ${label} differ in more than host and port`,
        'Several URLs name the nodes of one cluster: give each the same scheme, user, password and vhost.',
      );
    }
    if (other.hostname === undefined) throw new UsageError(`${label}: every URL in the list needs a host`);
    return other.port === undefined
      ? { hostname: other.hostname }
      : { hostname: other.hostname, port: other.port };
  });
  return { ...first, failover };
}

/** Parses `amqp[s]://user:pass@host:port/vhost?heartbeat=n` into the parts it names. */
export function parseAmqpUrl(text: string, label = '--url'): UrlParts {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Never echo the text: it may hold a password.
    throw new UsageError(`${label} is not a valid URL`, 'expected amqp://user:password@host:5672/vhost');
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'amqp' && scheme !== 'amqps') {
    throw new UsageError(`${label} must start with amqp:// or amqps:// (got ${scheme}://)`);
  }
  const parts: UrlParts = { protocol: scheme };
  if (url.hostname !== '') parts.hostname = stripBrackets(url.hostname);
  if (url.port !== '') parts.port = parsePort(url.port, label);
  if (url.username !== '') parts.username = decodeUrlPart(url.username, label, 'user name');
  if (url.password !== '') parts.password = decodeUrlPart(url.password, label, 'password');
  // RabbitMQ's URI spec: no path means the default vhost; the path is one percent-encoded segment.
  if (url.pathname !== '' && url.pathname !== '/') {
    parts.vhost = decodeUrlPart(url.pathname.slice(1), label, 'vhost');
  }
  // WHATWG URL drops '.' and '..' path segments (even written %2E), yet both are legal vhost names.
  const dotVhost = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*\/((?:\.|%2e){1,2})(?:[?#]|$)/i.exec(text);
  if (dotVhost) parts.vhost = decodeURIComponent(dotVhost[1] as string);
  const heartbeat = url.searchParams.get('heartbeat');
  if (heartbeat !== null) parts.heartbeat = parseHeartbeat(heartbeat, `${label} heartbeat`);
  return parts;
}

/** decodeURIComponent, with a usage error (never echoing the part) instead of "URI malformed". */
function decodeUrlPart(encoded: string, label: string, part: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new UsageError(
      `${label}: the ${part} holds a '%' that is not followed by two hex digits`,
      'In a URL, write a literal % as %25 (and @ as %40, : as %3A, / as %2F).',
    );
  }
}

function stripBrackets(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}
