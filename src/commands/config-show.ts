import { type ConnectionSettings, maskedUrl, type SettingSource } from '../config/connection.js';
import {
  optionsSetting,
  SECRET_SETTINGS,
  SETTING_LABELS,
  type SettingName,
  TLS_ONLY_SETTINGS,
} from '../config/schema.js';
import type { ResolvedSettings } from '../config/settings.js';
import { type CommandIo, writeLine } from './io.js';

const SHOWN = Object.keys(SETTING_LABELS) as SettingName[];

/** One setting as shown: secrets are always masked. */
function shownValue(settings: ConnectionSettings, name: SettingName): string {
  if (SECRET_SETTINGS.has(name)) return '***';
  const value = settings[name];
  if (name === 'heartbeat') return value === undefined ? "(the broker's choice)" : `${value} s`;
  if (name === 'servername' && value === undefined) return '(the host name)';
  if (name === 'ca' && value === undefined) return "(the system's CAs)";
  if (name === 'failover') {
    const nodes = settings.failover;
    return nodes.length === 0
      ? '(none)'
      : nodes
          .map((node) => (node.port === undefined ? node.hostname : `${node.hostname}:${node.port}`))
          .join(', ');
  }
  if (value === undefined) return '(none)';
  return String(value);
}

/** Where a value came from, naming the flags or variables that can set it. */
function origin(name: SettingName, source: SettingSource, profileName: string | undefined): string {
  const options = optionsSetting(name);
  if (source === 'flag') return `flag ${options.map((option) => `--${option.name}`).join(' / ')}`;
  if (source === 'env') return `environment ${options.map((option) => option.env).join(' / ')}`;
  if (source === 'profile') return `profile '${profileName}'`;
  return 'default';
}

/** `qtool config show`: what would be used, and where each value came from. */
export function runConfigShow(resolved: ResolvedSettings, options: { json: boolean }, io: CommandIo): number {
  const { settings, sources, profile, localFile } = resolved;
  // TLS details mean nothing on a plain connection: shown only with TLS.
  const shown = SHOWN.filter((name) => settings.protocol === 'amqps' || !TLS_ONLY_SETTINGS.includes(name));
  const localNote =
    localFile.trust === 'absent'
      ? null
      : `${localFile.path} (${localFile.trust === 'trusted' ? 'trusted, used' : `${localFile.trust}, ignored: qtool config trust`})`;
  if (options.json) {
    const values = Object.fromEntries(
      shown.map((name) => [
        SETTING_LABELS[name],
        {
          value: SECRET_SETTINGS.has(name) ? '***' : (settings[name] ?? null),
          source: sources[name],
        },
      ]),
    );
    const document = {
      url: maskedUrl(settings),
      profile: profile && { name: profile.name, files: profile.files },
      localConfig: localFile.trust === 'absent' ? null : localFile,
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
  if (localNote !== null) writeLine(io.stdout, `folder     ${localNote}`);
  for (const name of shown) {
    writeLine(
      io.stdout,
      `${SETTING_LABELS[name].padEnd(10)} ${shownValue(settings, name).padEnd(28)} ${origin(name, sources[name], profile?.name)}`,
    );
  }
  return 0;
}
