import { certificateProblem } from '../amqp/explain-tls.js';
import type { ConnectionSettings } from '../config/connection.js';
import type { TlsSocketOptions } from '../config/tls.js';
import { UsageError } from '../errors.js';
import { type HttpAnswer, httpGet } from './http-get.js';

/** The management plugin's default HTTP port. */
export const DEFAULT_MANAGEMENT_PORT = 15672;
/** Its default https port, used when the AMQP connection is TLS. */
export const DEFAULT_MANAGEMENT_TLS_PORT = 15671;
/** Long enough for a busy broker, short enough that `watch` never stalls for long. */
const REQUEST_TIMEOUT_MS = 3000;

/** Where the management HTTP API lives, and who to be there. */
export interface ManagementTarget {
  /** Base URL without credentials, ending in `/`: `http://localhost:15672/`. */
  baseUrl: string;
  username: string;
  password: string;
  /** True when the address came from --management-url, false when qtool guessed it. */
  explicit: boolean;
  /** For an https address: the connection's own TLS options (CA, client certificate, name). */
  tls: TlsSocketOptions | undefined;
}

/** One queue as `GET /api/queues/{vhost}` describes it (only the fields qtool reads). */
export interface ManagementQueue {
  name: string;
  messages_ready?: number;
  messages_unacknowledged?: number;
  messages?: number;
  consumers?: number;
  message_stats?: {
    publish_details?: { rate?: number };
    deliver_get_details?: { rate?: number };
    ack_details?: { rate?: number };
    redeliver_details?: { rate?: number };
  };
}

/** Which broker answers behind the API, as `GET /api/overview` tells. */
export interface ManagementIdentity {
  /** The cluster name; RabbitMQ announces the same one in the AMQP handshake. */
  clusterName: string | null;
  /** The node's name: only monitoring and administrator users are told it. */
  node: string | null;
}

/**
 * How the management API failed: nothing answered, it refused the user, it does not know what
 * was asked (a vhost), or it answered something that is not the API's JSON (5xx, a proxy page).
 */
export type ManagementProblem = 'unreachable' | 'refused' | 'not-found' | 'bad-answer';

/**
 * The management API did not give what was asked. Never fatal: callers fall back to AMQP and say
 * why with `message`, which names the API's address and the user, never the password.
 */
export class ManagementUnavailable extends Error {
  override readonly name = 'ManagementUnavailable';

  constructor(
    message: string,
    readonly problem: ManagementProblem,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The management API's address: `--management-url` when given (credentials in it win over the
 * connection's), else the broker's host with the connection's credentials: over https (port
 * 15671) when the AMQP connection is TLS, so the password never travels in clear where the user
 * chose encryption, and plain http (15672, or the port `qtool broker start` chose) otherwise.
 * An https address uses the connection's TLS options (see tlsOptions); plain http with a TLS
 * connection only when the user writes it out as --management-url http://...
 */
export function managementTarget(
  settings: ConnectionSettings,
  url: string | undefined,
  defaultPort?: number,
  tlsOptions?: TlsSocketOptions,
): ManagementTarget {
  const tls = tlsOptions ?? { rejectUnauthorized: true };
  if (url === undefined) {
    const host = settings.hostname.includes(':') ? `[${settings.hostname}]` : settings.hostname;
    const secure = settings.protocol === 'amqps';
    const port = defaultPort ?? (secure ? DEFAULT_MANAGEMENT_TLS_PORT : DEFAULT_MANAGEMENT_PORT);
    return {
      baseUrl: `${secure ? 'https' : 'http'}://${host}:${port}/`,
      username: settings.username,
      password: settings.password,
      explicit: false,
      tls: secure ? tls : undefined,
    };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo the text: it may hold a password.
    throw new UsageError('--management-url is not a valid URL', 'expected http://host:15672');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(
      `--management-url must start with http:// or https:// (got ${parsed.protocol}//)`,
      'expected http://host:15672',
    );
  }
  const username = parsed.username === '' ? settings.username : decodeURIComponent(parsed.username);
  const password = parsed.password === '' ? settings.password : decodeURIComponent(parsed.password);
  // fetch refuses URLs with credentials; they travel in the Authorization header instead.
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  if (!parsed.pathname.endsWith('/')) parsed.pathname = `${parsed.pathname}/`;
  return {
    baseUrl: parsed.toString(),
    username,
    password,
    explicit: true,
    tls: parsed.protocol === 'https:' ? tls : undefined,
  };
}

/** The management URL as shown to a person: never with credentials (baseUrl has none). */
export function displayManagementUrl(target: Pick<ManagementTarget, 'baseUrl'>): string {
  return target.baseUrl.replace(/\/$/, '');
}

/**
 * Every queue of `vhost` with its figures. Throws ManagementUnavailable for any failure, a refused
 * user and an unknown vhost included: whether the vhost exists is AMQP's to say, not the API's.
 */
export async function listQueues(target: ManagementTarget, vhost: string): Promise<ManagementQueue[]> {
  // The vhost is one path segment: '/' must travel as %2F.
  const body = await getJson(target, `api/queues/${encodeURIComponent(vhost)}`, { vhost });
  if (!Array.isArray(body)) throw notTheApi(target, 'a list of queues');
  return (body as unknown[]).filter(isQueue);
}

/** Which broker the API belongs to. Throws ManagementUnavailable as listQueues does. */
export async function readIdentity(target: ManagementTarget): Promise<ManagementIdentity> {
  const body = await getJson(target, 'api/overview', {});
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw notTheApi(target, 'an overview');
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  const overview = body as { cluster_name?: unknown; node?: unknown };
  return { clusterName: text(overview.cluster_name), node: text(overview.node) };
}

/**
 * The one place qtool makes an HTTP request to the management API: a GET of `path` below the
 * base URL, answered with JSON. TLS options for https would go here, and only here.
 */
async function getJson(target: ManagementTarget, path: string, about: { vhost?: string }): Promise<unknown> {
  const where = displayManagementUrl(target);
  const url = new URL(path, target.baseUrl);
  let response: HttpAnswer;
  try {
    response = await httpGet(url, {
      headers: {
        authorization: `Basic ${Buffer.from(`${target.username}:${target.password}`).toString('base64')}`,
        accept: 'application/json',
      },
      tls: target.tls,
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
  } catch (error) {
    throw new ManagementUnavailable(
      `no management API at ${where}: ${describeFetchError(error)}`,
      'unreachable',
      { cause: error },
    );
  }
  const body = parseJson(response.text);
  if (response.status === 401 || response.status === 403) {
    throw new ManagementUnavailable(refusal(target, response.status, body, about.vhost), 'refused');
  }
  if (response.status === 404 && about.vhost !== undefined && body?.error === 'Object Not Found') {
    throw new ManagementUnavailable(
      `the management API at ${where} does not know vhost '${about.vhost}'`,
      'not-found',
    );
  }
  if (response.status < 200 || response.status > 299) {
    throw new ManagementUnavailable(
      `the management API at ${where} answered HTTP ${response.status} ${response.statusText}`.trim(),
      'bad-answer',
    );
  }
  if (body === undefined) throw notTheApi(target, 'JSON');
  return body;
}

/** Why the API refused the user, in RabbitMQ's terms where it gave them. */
function refusal(
  target: ManagementTarget,
  status: number,
  // biome-ignore lint/suspicious/noExplicitAny: a JSON body is read field by field, each checked.
  body: any,
  vhost: string | undefined,
): string {
  const who = `the management API at ${displayManagementUrl(target)} refused user '${target.username}'`;
  const reason = typeof body?.reason === 'string' ? body.reason : '';
  // RabbitMQ says "Not management user" to users without a management (or higher) tag: how brokers
  // usually make students' accounts.
  if (/not management user/i.test(reason)) return `${who} (no management tag)`;
  if (vhost !== undefined && /vhost|virtual host/i.test(reason)) return `${who} access to vhost '${vhost}'`;
  return `${who} (HTTP ${status}: no management tag, or other credentials there?)`;
}

function notTheApi(target: ManagementTarget, expected: string): ManagementUnavailable {
  return new ManagementUnavailable(
    `no management API at ${displayManagementUrl(target)}: the answer was not ${expected}`,
    'bad-answer',
  );
}

function isQueue(value: unknown): value is ManagementQueue {
  return (
    typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string'
  );
}

/** The parsed body, or undefined when it is not JSON. */
// biome-ignore lint/suspicious/noExplicitAny: a JSON body is read field by field, each checked.
function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A failed request in a few words: the socket's or TLS's reason, never a raw stack. */
function describeFetchError(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  switch (code) {
    case 'ETIMEDOUT':
      return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host';
  }
  const message0 = String((error as { message?: unknown })?.message ?? '');
  if (code === 'EPROTO' || /wrong version number/i.test(message0)) {
    return 'it does not speak https (is this the plain http port?)';
  }
  const certificate = certificateProblem(code);
  if (certificate !== null) return `its TLS certificate was refused: ${certificate} (${String(code)})`;
  const message = (error as { message?: unknown })?.message;
  return typeof message === 'string' && message !== '' ? message : 'no answer';
}
