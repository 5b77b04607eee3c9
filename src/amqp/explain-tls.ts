import type { ConnectionSettings } from '../config/connection.js';
import { hostAndPort } from '../config/connection.js';
import { QtoolError } from '../errors.js';

/** The few facts about the connection a TLS failure message needs. */
export type TlsErrorContext = Pick<ConnectionSettings, 'hostname' | 'port'> &
  Partial<Pick<ConnectionSettings, 'ca' | 'servername' | 'protocol'>>;

/** OpenSSL's verification failures, as Node names them, in the words a person can act on. */
const CERTIFICATE_PROBLEMS: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'it is signed by a CA this connection does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed, and this connection does not trust it',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it is signed by a CA this connection does not trust',
  UNABLE_TO_GET_ISSUER_CERT: 'it is signed by a CA this connection does not trust',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it is signed by a CA this connection does not trust',
  CERT_SIGNATURE_FAILURE: 'its signature does not check out against the trusted CA',
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet (check the clocks)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'it was issued for another name',
};

/** What is wrong with the peer's certificate, in a few words, or null when `code` is no such failure. */
export function certificateProblem(code: unknown): string | null {
  return typeof code === 'string' && code in CERTIFICATE_PROBLEMS
    ? (CERTIFICATE_PROBLEMS[code] as string)
    : null;
}

/**
 * A TLS failure explained, or null when `code` is not one: which check failed and what to do,
 * without ever suggesting to turn verification off as the first fix.
 */
export function explainTlsError(code: unknown, message: string, context: TlsErrorContext): QtoolError | null {
  const where = hostAndPort(context);
  if (typeof code === 'string' && code in CERTIFICATE_PROBLEMS) {
    const trusted = context.ca === undefined ? "the system's CAs" : `the CA in ${context.ca}`;
    const name = context.servername ?? context.hostname;
    const hint =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `Connect with the name the certificate carries, or say it with --servername (now '${name}').`
        : `Pass the CA that signed the broker's certificate with --ca FILE (trusted now: ${trusted}). ` +
          '--insecure skips the check, and with it the protection against someone posing as the broker.';
    return new QtoolError(
      `the broker's TLS certificate at ${where} was refused: ${CERTIFICATE_PROBLEMS[code]} (${code})`,
      { hint },
    );
  }
  if (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    /wrong version number|packet length too long/i.test(message)
  ) {
    return new QtoolError(`the server at ${where} does not speak TLS`, {
      hint: 'Is this the plain AMQP port? RabbitMQ listens for TLS on 5671 by default; or leave out --tls for 5672.',
    });
  }
  if (typeof code === 'string' && /^ERR_SSL_|^ERR_TLS_|^ERR_OSSL_/.test(code)) {
    return new QtoolError(`the TLS handshake with ${where} failed: ${message}`, {
      hint: 'Check --ca, --cert and --key (PEM files), and that the broker accepts this TLS version.',
    });
  }
  return null;
}
