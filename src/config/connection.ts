import { UsageError } from '../errors.js';
import { rememberSecret } from './secrets.js';

/** Everything needed to reach one queue on one broker. */
export interface ConnectionSettings {
  protocol: 'amqp' | 'amqps';
  hostname: string;
  port: number;
  vhost: string;
  username: string;
  password: string;
  /** Seconds; 0 turns heartbeats off; undefined accepts what the broker proposes. */
  heartbeat: number | undefined;
  queue: string;
}

export type SettingName = keyof ConnectionSettings;
/** Where a resolved value came from, for `config show` and for error messages. */
export type SettingSource = 'flag' | 'env' | 'profile' | 'default';

export interface ResolvedConnection {
  settings: ConnectionSettings;
  sources: Record<SettingName, SettingSource>;
}

/** The connection options as typed on the command line (all strings, all optional). */
export interface ConnectionFlags {
  url?: string | undefined;
  host?: string | undefined;
  port?: string | undefined;
  vhost?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  heartbeat?: string | undefined;
  queue?: string | undefined;
}

/** Environment variables that stand in for each flag. */
export const CONNECTION_ENV: Readonly<Record<keyof ConnectionFlags, string>> = {
  url: 'AMQP_URL',
  host: 'QTOOL_HOST',
  port: 'QTOOL_PORT',
  vhost: 'QTOOL_VHOST',
  username: 'QTOOL_USERNAME',
  password: 'QTOOL_PASSWORD',
  heartbeat: 'QTOOL_HEARTBEAT',
  queue: 'QTOOL_QUEUE',
};

export const DEFAULT_SETTINGS: Readonly<ConnectionSettings> = {
  protocol: 'amqp',
  hostname: 'localhost',
  port: 5672,
  vhost: '/',
  username: 'guest',
  password: 'guest',
  heartbeat: undefined,
  queue: 'hello',
};

const TLS_PORT = 5671;

type Layer = Partial<ConnectionSettings>;

/**
 * Resolves the connection settings: flag > environment > profile > default, field by field.
 * Within one layer a URL gives the base and the single options override its parts, so
 * `--url amqp://h --vhost v` means vhost v on h.
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: Readonly<Record<string, string | undefined>>,
  profile?: { name: string; flags: ConnectionFlags },
): ResolvedConnection {
  const envFlags: ConnectionFlags = {};
  for (const [key, name] of Object.entries(CONNECTION_ENV) as [keyof ConnectionFlags, string][]) {
    const value = env[name];
    if (value !== undefined && value !== '') envFlags[key] = value;
  }
  const layers: [SettingSource, Layer][] = [
    ['profile', profile ? layerFrom(profile.flags, (key) => `profile '${profile.name}' ${key}`) : {}],
    ['env', layerFrom(envFlags, (key) => `${CONNECTION_ENV[key]}`)],
    ['flag', layerFrom(flags, (key) => `--${key}`)],
  ];

  const settings: ConnectionSettings = { ...DEFAULT_SETTINGS };
  const sources = Object.fromEntries(Object.keys(DEFAULT_SETTINGS).map((k) => [k, 'default'])) as Record<
    SettingName,
    SettingSource
  >;
  for (const [source, layer] of layers) {
    for (const [key, value] of Object.entries(layer) as [SettingName, never][]) {
      if (value === undefined) continue;
      settings[key] = value;
      sources[key] = source;
    }
  }
  // amqps without an explicit port means the TLS port, as every AMQP client does.
  if (sources.port === 'default' && settings.protocol === 'amqps') settings.port = TLS_PORT;
  rememberSecret(settings.password);
  return { settings, sources };
}

/** Turns one source's raw strings into typed settings; `label` names the flag or variable in errors. */
function layerFrom(raw: ConnectionFlags, label: (key: keyof ConnectionFlags) => string): Layer {
  const layer: Layer = raw.url === undefined ? {} : parseAmqpUrl(raw.url, label('url'));
  if (raw.host !== undefined) Object.assign(layer, parseHostPort(raw.host, label('host')));
  if (raw.port !== undefined) layer.port = parsePort(raw.port, label('port'));
  if (raw.vhost !== undefined) layer.vhost = raw.vhost;
  if (raw.username !== undefined) layer.username = raw.username;
  if (raw.password !== undefined) layer.password = raw.password;
  if (raw.heartbeat !== undefined) layer.heartbeat = parseHeartbeat(raw.heartbeat, label('heartbeat'));
  if (raw.queue !== undefined) layer.queue = parseQueueName(raw.queue, label('queue'));
  return layer;
}

/** Parses `amqp[s]://user:pass@host:port/vhost?heartbeat=n` into the parts it names. */
export function parseAmqpUrl(text: string, label = '--url'): Layer {
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
  const layer: Layer = { protocol: scheme };
  if (url.hostname !== '') layer.hostname = stripBrackets(url.hostname);
  if (url.port !== '') layer.port = parsePort(url.port, label);
  if (url.username !== '') layer.username = decodeURIComponent(url.username);
  if (url.password !== '') layer.password = decodeURIComponent(url.password);
  // RabbitMQ's URI spec: no path means the default vhost; the path is one percent-encoded segment.
  if (url.pathname !== '' && url.pathname !== '/') layer.vhost = decodeURIComponent(url.pathname.slice(1));
  const heartbeat = url.searchParams.get('heartbeat');
  if (heartbeat !== null) layer.heartbeat = parseHeartbeat(heartbeat, `${label} heartbeat`);
  return layer;
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`. */
export function parseHostPort(text: string, label = '--host'): Layer {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    const layer: Layer = { hostname: bracketed[1] as string };
    if (bracketed[2] !== undefined) layer.port = parsePort(bracketed[2], label);
    return layer;
  }
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const [hostname, port] = text.split(':') as [string, string];
    if (hostname === '') throw new UsageError(`${label} has no host name before the colon`);
    return { hostname, port: parsePort(port, label) };
  }
  if (text === '') throw new UsageError(`${label} must not be empty`);
  // Zero colons is a plain name; two or more is a bare IPv6 address.
  return { hostname: text };
}

export function parsePort(text: string, label = '--port'): number {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`${label}: '${text}' is not a port number (1-65535)`);
  }
  return port;
}

export function parseHeartbeat(text: string, label = '--heartbeat'): number {
  const seconds = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isInteger(seconds) || seconds > 65535) {
    throw new UsageError(
      `${label}: '${text}' is not a heartbeat in whole seconds (0-65535)`,
      '0 turns heartbeats off; leave it out to accept what the broker proposes (usually 60)',
    );
  }
  return seconds;
}

export function parseQueueName(text: string, label = '--queue'): string {
  if (text === '') throw new UsageError(`${label} must not be empty`);
  if (Buffer.byteLength(text) > 255) throw new UsageError(`${label} is longer than AMQP's 255 bytes`);
  return text;
}

function stripBrackets(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/**
 * The one way a connection is shown to a person: a URL with the user but never the password.
 * The vhost is percent-encoded as RabbitMQ's URI spec wants (`/` is `%2F`).
 */
export function maskedUrl(
  settings: Pick<ConnectionSettings, 'protocol' | 'hostname' | 'port' | 'vhost' | 'username'>,
): string {
  const host = settings.hostname.includes(':') ? `[${settings.hostname}]` : settings.hostname;
  return `${settings.protocol}://${encodeURIComponent(settings.username)}@${host}:${settings.port}/${encodeURIComponent(settings.vhost)}`;
}

/** `host:port`, as used in messages about reaching the broker. */
export function hostAndPort(settings: Pick<ConnectionSettings, 'hostname' | 'port'>): string {
  const host = settings.hostname.includes(':') ? `[${settings.hostname}]` : settings.hostname;
  return `${host}:${settings.port}`;
}
