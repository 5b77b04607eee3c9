import { accessSync, constants, statSync } from 'node:fs';
import { UsageError } from '../errors.js';
import {
  CONNECTION_OPTIONS,
  type ConnectionFlags,
  connectionOption,
  type OptionName,
  optionsSetting,
  type SettingName,
  type SettingsLayer,
  TLS_ONLY_SETTINGS,
} from './schema.js';
import { rememberSecret } from './secrets.js';

export type { ConnectionFlags, SettingName } from './schema.js';
export { parseAmqpUrl, parseHeartbeat, parseHostPort, parsePort, parseQueueName } from './values.js';

/** A further broker node to fail over to; without a port it listens on the first node's port. */
export interface Endpoint {
  hostname: string;
  port?: number | undefined;
}

/** Everything needed to reach one queue on one broker (a node, or a cluster's nodes in order). */
export interface ConnectionSettings {
  protocol: 'amqp' | 'amqps';
  /** The first node to try. */
  hostname: string;
  port: number;
  /** The cluster's other nodes, tried in order after the first (`--host a,b,c`); usually none. */
  failover: readonly Endpoint[];
  vhost: string;
  username: string;
  password: string;
  /** Seconds; 0 turns heartbeats off; undefined accepts what the broker proposes. */
  heartbeat: number | undefined;
  queue: string;
  /** TLS: absolute path of a PEM file with the CA to trust; undefined trusts the system's CAs. */
  ca: string | undefined;
  /** TLS: absolute paths of a client certificate and its key, for brokers that ask for one. */
  cert: string | undefined;
  key: string | undefined;
  /** TLS: the name the broker's certificate must carry; undefined means the host name. */
  servername: string | undefined;
  /** TLS without verifying the broker's certificate. */
  insecure: boolean;
}

/** Where a resolved value came from, for `config show` and for error messages. */
export type SettingSource = 'flag' | 'env' | 'profile' | 'default';

export interface ResolvedConnection {
  settings: ConnectionSettings;
  sources: Record<SettingName, SettingSource>;
}

export const DEFAULT_SETTINGS: Readonly<ConnectionSettings> = {
  protocol: 'amqp',
  hostname: 'localhost',
  port: 5672,
  failover: [],
  vhost: '/',
  username: 'guest',
  password: 'guest',
  heartbeat: undefined,
  queue: 'hello',
  ca: undefined,
  cert: undefined,
  key: undefined,
  servername: undefined,
  insecure: false,
};

const TLS_PORT = 5671;

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
  for (const option of CONNECTION_OPTIONS) {
    const value = env[option.env];
    if (value !== undefined && value !== '') envFlags[option.name] = value;
  }
  const layers: [SettingSource, SettingsLayer][] = [
    ['profile', profile ? layerFrom(profile.flags, (option) => `profile '${profile.name}' ${option}`) : {}],
    ['env', layerFrom(envFlags, (option) => connectionOption(option).env)],
    ['flag', layerFrom(flags, (option) => `--${option}`)],
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
  refuseSilentDowngrade(layers, settings, sources, profile?.name);
  // amqps without an explicit port means the TLS port, as every AMQP client does.
  if (sources.port === 'default' && settings.protocol === 'amqps') settings.port = TLS_PORT;
  checkTlsSettings(settings, sources);
  rememberSecret(settings.password);
  return { settings, sources };
}

/** Turns one source's raw values into typed settings, option by option, URL first. */
function layerFrom(raw: ConnectionFlags, label: (option: OptionName) => string): SettingsLayer {
  const layer: SettingsLayer = {};
  for (const option of CONNECTION_OPTIONS) {
    const value = raw[option.name];
    if (value === undefined || value === false) continue;
    option.apply(layer, value, label(option.name));
  }
  return layer;
}

/**
 * A profile that asks for TLS keeps it unless the command line itself says otherwise: an inherited
 * AMQP_URL (set for some other tool) would otherwise turn TLS off and send the profile's password
 * in clear text, perhaps to another host.
 */
function refuseSilentDowngrade(
  layers: readonly [SettingSource, SettingsLayer][],
  settings: ConnectionSettings,
  sources: Record<SettingName, SettingSource>,
  profileName: string | undefined,
): void {
  if (settings.protocol !== 'amqp' || sources.protocol !== 'env') return;
  const profileLayer = layers.find(([source]) => source === 'profile')?.[1];
  if (profileLayer?.protocol !== 'amqps') return;
  // Only the environment can sit between a profile and the command line.
  const variables = optionsSetting('protocol')
    .map((option) => option.env)
    .join(' or ');
  throw new UsageError(
    `the environment (${variables}) asks for plain amqp, but profile '${profileName}' asks for TLS; qtool will not turn TLS off unasked`,
    `Unset ${variables}, or say it on the command line (--url amqp://... for plain, --tls to keep TLS).`,
  );
}

/** TLS options without TLS would be silently ignored; unreadable files would fail deep in the handshake. */
function checkTlsSettings(settings: ConnectionSettings, sources: Record<SettingName, SettingSource>): void {
  const where = (setting: SettingName) => describeSource(setting, sources[setting]);
  if (settings.protocol !== 'amqps') {
    const stray = TLS_ONLY_SETTINGS.find((setting) => settings[setting] !== DEFAULT_SETTINGS[setting]);
    if (stray !== undefined) {
      throw new UsageError(
        `${where(stray)} applies to TLS connections only, and this one is plain AMQP`,
        'Add --tls (or use an amqps:// URL), or leave the TLS options out.',
      );
    }
    return;
  }
  if ((settings.cert === undefined) !== (settings.key === undefined)) {
    throw new UsageError('a client certificate needs both --cert and --key');
  }
  for (const setting of ['ca', 'cert', 'key'] as const) {
    const path = settings[setting];
    if (path === undefined) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch {
      throw new UsageError(`${where(setting)}: cannot read ${path} (no such file, or no permission)`);
    }
    if (!statSync(path).isFile())
      throw new UsageError(`${where(setting)}: ${path} is not a file (a PEM file is expected)`);
  }
}

/** `--ca`, `QTOOL_CA` or `the profile's ca`: where a setting was given, in the user's words. */
export function describeSource(setting: SettingName, source: SettingSource): string {
  const [option] = optionsSetting(setting).filter((candidate) => candidate.name !== 'url');
  const name = option?.name ?? setting;
  if (source === 'env') return option?.env ?? name;
  if (source === 'profile') return `the profile's ${name}`;
  return `--${name}`;
}

/**
 * The one way a connection is shown to a person: a URL with the user but never the password.
 * The vhost is percent-encoded as RabbitMQ's URI spec wants (`/` is `%2F`).
 */
export function maskedUrl(
  settings: Pick<ConnectionSettings, 'protocol' | 'hostname' | 'port' | 'vhost' | 'username'>,
): string {
  // A vhost of '.' or '..' would read as a path step: write its dots encoded.
  const vhost = /^\.{1,2}$/.test(settings.vhost)
    ? settings.vhost.replace(/\./g, '%2E')
    : encodeURIComponent(settings.vhost);
  return `${settings.protocol}://${encodeURIComponent(settings.username)}@${hostAndPort(settings)}/${vhost}`;
}

/** Every node to try, in order, each with its port: the first node, then the fail-over ones. */
export function nodesOf(settings: ConnectionSettings): ConnectionSettings[] {
  return [
    settings,
    ...settings.failover.map((node) => ({
      ...settings,
      hostname: node.hostname,
      port: node.port ?? settings.port,
    })),
  ];
}

/** `host:port`, as used in messages about reaching the broker. */
export function hostAndPort(settings: Pick<ConnectionSettings, 'hostname' | 'port'>): string {
  const host = settings.hostname.includes(':') ? `[${settings.hostname}]` : settings.hostname;
  return `${host}:${settings.port}`;
}
