import { readFile } from 'node:fs/promises';
import type { ConnectionSettings } from './connection.js';

/** What tls.connect (and an https request) needs: whom to trust, who we are, which name to check. */
export interface TlsSocketOptions {
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized: boolean;
}

/**
 * The TLS options of a connection, for AMQP and for the management API alike, so both trust the
 * same CA and check the same name. The files were checked to be readable when the settings were
 * resolved; they are read here, once per connection.
 */
export async function tlsSocketOptions(
  settings: Pick<ConnectionSettings, 'ca' | 'cert' | 'key' | 'servername' | 'insecure'>,
): Promise<TlsSocketOptions> {
  const read = async (path: string | undefined) => (path === undefined ? undefined : await readFile(path));
  const [ca, cert, key] = await Promise.all([read(settings.ca), read(settings.cert), read(settings.key)]);
  const options: TlsSocketOptions = { rejectUnauthorized: !settings.insecure };
  if (ca !== undefined) options.ca = [ca];
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  if (settings.servername !== undefined) options.servername = settings.servername;
  return options;
}
