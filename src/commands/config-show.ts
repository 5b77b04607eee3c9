import { type ConnectionSettings, maskedUrl, type SettingName } from '../config/connection.js';
import type { ResolvedSettings } from '../config/settings.js';
import { type CommandIo, writeLine } from './io.js';

const SHOWN: { name: SettingName; label: string; flag: string; env: string }[] = [
  { name: 'protocol', label: 'protocol', flag: '--url', env: 'AMQP_URL' },
  { name: 'hostname', label: 'host', flag: '--host / --url', env: 'QTOOL_HOST / AMQP_URL' },
  { name: 'port', label: 'port', flag: '--port / --host / --url', env: 'QTOOL_PORT / QTOOL_HOST / AMQP_URL' },
  { name: 'vhost', label: 'vhost', flag: '--vhost / --url', env: 'QTOOL_VHOST / AMQP_URL' },
  { name: 'username', label: 'username', flag: '--username / --url', env: 'QTOOL_USERNAME / AMQP_URL' },
  { name: 'password', label: 'password', flag: '--password', env: 'QTOOL_PASSWORD / AMQP_URL' },
  { name: 'heartbeat', label: 'heartbeat', flag: '--heartbeat', env: 'QTOOL_HEARTBEAT / AMQP_URL' },
  { name: 'queue', label: 'queue', flag: '--queue', env: 'QTOOL_QUEUE' },
];

/** One setting as shown: the password is always masked. */
function shownValue(settings: ConnectionSettings, name: SettingName): string {
  if (name === 'password') return '***';
  if (name === 'heartbeat')
    return settings.heartbeat === undefined ? "(the broker's choice)" : `${settings.heartbeat} s`;
  return String(settings[name]);
}

/** `qtool config show`: what would be used, and where each value came from. */
export function runConfigShow(resolved: ResolvedSettings, options: { json: boolean }, io: CommandIo): number {
  const { settings, sources, profile } = resolved;
  const origin = (entry: (typeof SHOWN)[number]): string => {
    const source = sources[entry.name];
    if (source === 'flag') return `flag ${entry.flag}`;
    if (source === 'env') return `environment ${entry.env}`;
    if (source === 'profile') return `profile '${profile?.name}'`;
    return 'default';
  };
  if (options.json) {
    const values = Object.fromEntries(
      SHOWN.map((entry) => [
        entry.label,
        {
          value: entry.name === 'password' ? '***' : (settings[entry.name] ?? null),
          source: sources[entry.name],
        },
      ]),
    );
    const document = {
      url: maskedUrl(settings),
      profile: profile && { name: profile.name, files: profile.files },
      settings: values,
    };
    writeLine(io.stdout, JSON.stringify(document, null, 2));
    return 0;
  }
  writeLine(io.stdout, `url        ${maskedUrl(settings)}`);
  writeLine(
    io.stdout,
    `profile    ${profile === null ? '(none)' : `${profile.name} (from ${profile.files.join(', ')})`}`,
  );
  for (const entry of SHOWN) {
    writeLine(
      io.stdout,
      `${entry.label.padEnd(10)} ${shownValue(settings, entry.name).padEnd(28)} ${origin(entry)}`,
    );
  }
  return 0;
}
