import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { ConnectionSettings, Endpoint } from './connection.js';
import {
  parseAmqpName,
  parseAmqpUrls,
  parseHeartbeat,
  parseHostList,
  parsePort,
  parseQueueName,
  parseSwitch,
  refuseControlCharacters,
} from './values.js';

/**
 * Every connection option, described once. The command-line flags and their help, the environment
 * variables, the profile keys, `config show`, the environment of `qtool lab`'s panes and of the
 * demo's workers, and shell completion are all derived from this table: a new setting (a TLS
 * option, say) is one entry here.
 */

export type SettingName = keyof ConnectionSettings;
export type OptionName =
  | 'url'
  | 'host'
  | 'port'
  | 'vhost'
  | 'username'
  | 'password'
  | 'heartbeat'
  | 'queue'
  | 'tls'
  | 'ca'
  | 'cert'
  | 'key'
  | 'servername'
  | 'insecure';

/** The connection options as given (flags and profiles: strings, numbers or booleans; all optional). */
export type ConnectionFlags = { [name in OptionName]?: string | boolean | undefined };

/** Part of the settings, as one source (flags, environment, profile) gives them. */
export type SettingsLayer = Partial<ConnectionSettings>;

export interface ConnectionOption {
  /** The flag's long name without dashes; also the profile key. */
  name: OptionName;
  /** commander's flags, e.g. `--host <host[:port]>`. */
  flags: string;
  env: string;
  description: string;
  /** What the help says when the option is left out. */
  defaultText?: string;
  /** Where the help lists it. */
  group: 'connection' | 'tls';
  /** `switch`: on/off, no value; `file`: a path (completed as file names, made absolute). */
  kind: 'value' | 'switch' | 'file';
  /** The settings this option can set, for `config show`'s "from where". */
  sets: readonly SettingName[];
  /** Puts the option's value into a layer; `label` names the flag, variable or profile key in errors. */
  apply(layer: SettingsLayer, value: string | boolean, label: string): void;
  /** The value as this option's variable carries it to a child process; '' for nothing. */
  toEnv(settings: ConnectionSettings): string;
}

const text = (value: string | boolean): string => String(value);

/** An option that sets the one setting of its own name, from one value (most of them). */
function oneSetting<Name extends 'port' | 'vhost' | 'username' | 'password' | 'heartbeat' | 'queue'>(
  name: Name,
  flags: string,
  env: string,
  description: string,
  defaultText: string,
  parse: (text: string, label: string) => ConnectionSettings[Name],
): ConnectionOption {
  return {
    name,
    flags,
    env,
    description,
    defaultText,
    group: 'connection',
    kind: 'value',
    sets: [name],
    apply(layer, value, label) {
      layer[name] = parse(text(value), label);
    },
    toEnv: (settings) => (settings[name] === undefined ? '' : String(settings[name])),
  };
}
const hostText = (hostname: string) => (hostname.includes(':') ? `[${hostname}]` : hostname);
const endpointText = (node: Endpoint) =>
  node.port === undefined ? hostText(node.hostname) : `${hostText(node.hostname)}:${node.port}`;
const fileSetting = (
  name: 'ca' | 'cert' | 'key',
  env: string,
  description: string,
  defaultText?: string,
): ConnectionOption => ({
  name,
  flags: `--${name} <file>`,
  env,
  description,
  ...(defaultText === undefined ? {} : { defaultText }),
  group: 'tls',
  kind: 'file',
  sets: [name],
  apply(layer, value, label) {
    const path = refuseControlCharacters(text(value), label);
    if (path === '') throw new UsageError(`${label} must name a file`);
    // Absolute, so a lab pane or a worker started elsewhere finds the same file.
    layer[name] = resolve(path);
  },
  toEnv: (settings) => settings[name] ?? '',
});

export const CONNECTION_OPTIONS: readonly ConnectionOption[] = [
  {
    name: 'url',
    flags: '--url <url>',
    env: 'AMQP_URL',
    description:
      'broker URL, amqp[s]://user:password@host:port/vhost (several, comma-separated, for fail-over between nodes); the options below override its parts',
    group: 'connection',
    kind: 'value',
    sets: ['protocol', 'hostname', 'port', 'failover', 'vhost', 'username', 'password', 'heartbeat'],
    apply(layer, value, label) {
      const parts = parseAmqpUrls(text(value), label);
      if (parts.vhost !== undefined) parseAmqpName(parts.vhost, `${label} vhost`);
      if (parts.username !== undefined) parseAmqpName(parts.username, `${label} user name`);
      Object.assign(layer, parts);
    },
    // Never passed on: every part travels in its own variable, the password among them.
    toEnv: () => '',
  },
  {
    name: 'host',
    flags: '--host <host[:port],...>',
    env: 'QTOOL_HOST',
    description: "broker host, optionally with :port; a cluster's nodes comma-separated, tried in order",
    defaultText: 'localhost',
    group: 'connection',
    kind: 'value',
    sets: ['hostname', 'port', 'failover'],
    apply: (layer, value, label) => Object.assign(layer, parseHostList(text(value), label)),
    // The first node's port travels in QTOOL_PORT; the others' only when they name their own.
    toEnv: (settings) => [hostText(settings.hostname), ...settings.failover.map(endpointText)].join(','),
  },
  oneSetting('port', '--port <n>', 'QTOOL_PORT', 'broker port', '5672, 5671 with TLS', parsePort),
  oneSetting(
    'vhost',
    '--vhost <name>',
    'QTOOL_VHOST',
    'virtual host (in a class lab, often your user name)',
    '/',
    parseAmqpName,
  ),
  oneSetting('username', '--username <name>', 'QTOOL_USERNAME', 'user name', 'guest', parseAmqpName),
  oneSetting(
    'password',
    '--password <pw>',
    'QTOOL_PASSWORD',
    'password; other users can read command lines, so prefer the variable or a profile',
    'guest',
    (value) => value,
  ),
  oneSetting(
    'heartbeat',
    '--heartbeat <seconds>',
    'QTOOL_HEARTBEAT',
    'heartbeat interval in seconds, 0 for none',
    'what the broker proposes, usually 60',
    parseHeartbeat,
  ),
  oneSetting('queue', '--queue <name>', 'QTOOL_QUEUE', 'queue name', 'hello', parseQueueName),
  {
    name: 'tls',
    flags: '--tls',
    env: 'QTOOL_TLS',
    description: "connect with TLS (amqps), verifying the broker's certificate; as an amqps:// URL does",
    group: 'tls',
    kind: 'switch',
    sets: ['protocol'],
    apply(layer, value, label) {
      layer.protocol = parseSwitch(value, label) ? 'amqps' : 'amqp';
    },
    toEnv: (settings) => (settings.protocol === 'amqps' ? '1' : ''),
  },
  fileSetting(
    'ca',
    'QTOOL_CA',
    "PEM file of the CA that signed the broker's certificate",
    "the system's CAs",
  ),
  fileSetting(
    'cert',
    'QTOOL_CERT',
    'PEM file of a client certificate, for brokers that ask for one (with --key)',
  ),
  fileSetting('key', 'QTOOL_KEY', "PEM file of the client certificate's private key"),
  {
    name: 'servername',
    flags: '--servername <name>',
    env: 'QTOOL_SERVERNAME',
    description: "the name the broker's certificate must carry",
    defaultText: 'the host name',
    group: 'tls',
    kind: 'value',
    sets: ['servername'],
    apply(layer, value, label) {
      const name = refuseControlCharacters(text(value), label);
      if (name === '') throw new UsageError(`${label} must not be empty`);
      layer.servername = name;
    },
    toEnv: (settings) => settings.servername ?? '',
  },
  {
    name: 'insecure',
    flags: '--insecure',
    env: 'QTOOL_INSECURE',
    description:
      "TLS without verifying the broker's certificate: encrypted, but anyone on the way could pose as the broker",
    group: 'tls',
    kind: 'switch',
    sets: ['insecure'],
    apply(layer, value, label) {
      layer.insecure = parseSwitch(value, label);
    },
    toEnv: (settings) => (settings.insecure ? '1' : ''),
  },
];

/** How each setting is named to a person, and which are secret. */
export const SETTING_LABELS: Readonly<Record<SettingName, string>> = {
  protocol: 'protocol',
  hostname: 'host',
  port: 'port',
  failover: 'failover',
  vhost: 'vhost',
  username: 'username',
  password: 'password',
  heartbeat: 'heartbeat',
  queue: 'queue',
  ca: 'ca',
  cert: 'cert',
  key: 'key',
  servername: 'servername',
  insecure: 'insecure',
};

/** Settings that mean something only with TLS: those of the TLS options other than --tls itself. */
export const TLS_ONLY_SETTINGS: readonly SettingName[] = CONNECTION_OPTIONS.filter(
  (option) => option.group === 'tls' && option.name !== 'tls',
).flatMap((option) => option.sets);

export const SECRET_SETTINGS: ReadonlySet<SettingName> = new Set(['password']);

/** Variable that names the profile to use; set but empty, it means "no profile at all". */
export const PROFILE_ENV = 'QTOOL_PROFILE';

export function connectionOption(name: OptionName): ConnectionOption {
  const option = CONNECTION_OPTIONS.find((candidate) => candidate.name === name);
  if (option === undefined) throw new Error(`no connection option ${name}`);
  return option;
}

/** The options (as flags and variables) that can set `setting`, for `config show`. */
export function optionsSetting(setting: SettingName): ConnectionOption[] {
  const options = CONNECTION_OPTIONS.filter((option) => option.sets.includes(setting));
  // The URL sets nearly everything: name the option of this setting's own first.
  return [
    ...options.filter((option) => option.name !== 'url'),
    ...options.filter((option) => option.name === 'url'),
  ];
}

/**
 * The settings as environment variables for a child qtool (a lab pane, a demo worker): every
 * option's variable is set, '' where there is nothing, and QTOOL_PROFILE is '' (no profile), so
 * nothing inherited (a `default` profile, an AMQP_URL in tmux's environment) can change them.
 */
export function settingsEnvironment(settings: ConnectionSettings): Record<string, string> {
  const env: Record<string, string> = { [PROFILE_ENV]: '' };
  for (const option of CONNECTION_OPTIONS) env[option.env] = option.toEnv(settings);
  return env;
}
