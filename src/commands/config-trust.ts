import { readFile } from 'node:fs/promises';
import { type Profile, parseConfigText } from '../config/profiles.js';
import { trustFile, untrustFile } from '../config/trust.js';
import { parseAmqpUrl } from '../config/values.js';
import { QtoolError } from '../errors.js';
import { type CommandIo, writeLine } from './io.js';

/**
 * `qtool config trust`: lets qtool read the current folder's qtool.config.json, and shows what
 * that means: which profiles it defines and where they would send the password. The file is
 * trusted with its present content only; any later change needs trusting again.
 */
export async function runConfigTrust(file: string, storePath: string, io: CommandIo): Promise<number> {
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new QtoolError(`there is no ${file} to trust`, {
        hint: 'Run it in the folder that holds qtool.config.json.',
      });
    }
    throw new QtoolError(`cannot read ${file}: ${(error as Error).message}`);
  }
  // Validates exactly these bytes: a broken file is refused now rather than on every later command.
  const config = parseConfigText(content.toString('utf8'), file);
  await trustFile(storePath, file, content);
  writeLine(io.stderr, `Trusted ${file} as it is now; a change to it needs \`qtool config trust\` again.`);
  for (const [name, profile] of Object.entries(config?.profiles ?? {})) {
    const target = profileTarget(profile);
    const fields = Object.keys(profile).join(', ');
    writeLine(io.stderr, `  profile '${name}': ${fields || 'no settings'} (host: ${target})`);
  }
  return 0;
}

/** `qtool config untrust`: stops reading the current folder's qtool.config.json. */
export async function runConfigUntrust(file: string, storePath: string, io: CommandIo): Promise<number> {
  const was = await untrustFile(storePath, file);
  writeLine(io.stderr, was ? `No longer trusting ${file}.` : `${file} was not trusted; nothing changed.`);
  return 0;
}

/** Where a profile would send the password: host and whether TLS, from its URL or its fields. */
function profileTarget(profile: Profile): string {
  let host = profile.host === undefined ? undefined : String(profile.host);
  let tls = profile.tls === true || String(profile.tls) === 'true';
  if (profile.url !== undefined) {
    try {
      const parts = parseAmqpUrl(String(profile.url), 'url');
      host ??= parts.hostname;
      tls ||= parts.protocol === 'amqps';
    } catch {
      return 'an unreadable URL';
    }
  }
  return `${host ?? 'localhost'}${tls ? ', TLS' : ', plain AMQP'}${profile.insecure === true ? ' without verifying the certificate' : ''}`;
}
