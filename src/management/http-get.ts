import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TlsSocketOptions } from '../config/tls.js';

/** What a GET answered: status and the whole body as text. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  text: string;
}

/** Why a GET got no answer: a socket or TLS error (with Node's `code`), or the time-out. */
export class HttpGetError extends Error {
  override readonly name = 'HttpGetError';

  constructor(
    message: string,
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** No management API answer is larger; anything bigger is not one. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * One GET over http or https, with the connection's TLS options for https (Node's fetch takes no
 * CA or client certificate without an extra dispatcher library). Redirects are not followed: the
 * management API does not redirect, and following one could carry the credentials elsewhere.
 * The time-out covers the body too: a server that sends headers and then stalls is no answer.
 */
export function httpGet(
  url: URL,
  options: { headers: Record<string, string>; tls: TlsSocketOptions | undefined; timeoutMs: number },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const request = send(url, {
      method: 'GET',
      headers: options.headers,
      ...(https ? (options.tls ?? {}) : {}),
    });
    const timer = setTimeout(() => {
      request.destroy(new HttpGetError(`no answer within ${options.timeoutMs / 1000} s`, 'ETIMEDOUT'));
    }, options.timeoutMs);
    const fail = (error: Error & { code?: string }) => {
      clearTimeout(timer);
      reject(
        error instanceof HttpGetError ? error : new HttpGetError(error.message, error.code, { cause: error }),
      );
    };
    request.on('error', fail);
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) request.destroy(new HttpGetError('the answer is too large', 'E2BIG'));
        else chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          statusText: response.statusMessage ?? '',
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    request.end();
  });
}
