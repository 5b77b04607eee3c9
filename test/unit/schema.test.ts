import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ConnectionSettings,
  DEFAULT_SETTINGS,
  maskedUrl,
  resolveConnection,
} from '../../src/config/connection.js';
import { CONNECTION_OPTIONS, settingsEnvironment } from '../../src/config/schema.js';
import { parseAmqpUrl, parseHostPort, parsePort } from '../../src/config/values.js';
import { UsageError } from '../../src/errors.js';

/** Printable names without control characters, up to AMQP's 255 bytes. */
const name = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
  .filter((text) => !/\p{Cc}/u.test(text) && Buffer.byteLength(text) <= 255);
const host = fc.oneof(fc.domain(), fc.ipV4(), fc.constant('::1'));
const password = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 30 })
  .filter((text) => !/\p{Cc}/u.test(text));

const settingsArbitrary: fc.Arbitrary<ConnectionSettings> = fc
  .record({
    tls: fc.boolean(),
    hostname: host,
    port: fc.integer({ min: 1, max: 65535 }),
    failover: fc.array(
      fc.record({ hostname: host, port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }) }),
      { maxLength: 3 },
    ),
    vhost: name,
    username: name,
    password,
    heartbeat: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
    queue: name,
    ca: fc.option(fc.constantFrom('/etc/hostname'), { nil: undefined }),
    servername: fc.option(fc.domain(), { nil: undefined }),
    insecure: fc.boolean(),
  })
  .map(({ tls, ca, servername, insecure, ...rest }) => ({
    ...DEFAULT_SETTINGS,
    ...rest,
    protocol: tls ? 'amqps' : 'amqp',
    // TLS details only exist with TLS (resolveConnection refuses them otherwise).
    ca: tls ? ca : undefined,
    servername: tls ? servername : undefined,
    insecure: tls ? insecure : false,
  }));

describe('the settings schema', () => {
  it('describes every setting of ConnectionSettings, and no option twice', () => {
    const settable = new Set(CONNECTION_OPTIONS.flatMap((option) => option.sets));
    expect([...settable].sort()).toEqual(Object.keys(DEFAULT_SETTINGS).sort());
    const envs = CONNECTION_OPTIONS.map((option) => option.env);
    expect(new Set(envs).size).toBe(envs.length);
  });

  it('carries any settings through a child environment unchanged (lab panes, demo workers)', () => {
    fc.assert(
      fc.property(settingsArbitrary, (settings) => {
        const env = settingsEnvironment(settings);
        // What a pane inherits from elsewhere must not matter: these are all overwritten or blanked.
        const inherited = {
          AMQP_URL: 'amqp://intruder:pw@elsewhere:1/x',
          QTOOL_HEARTBEAT: '7',
          QTOOL_INSECURE: '1',
        };
        const resolved = resolveConnection({}, { ...inherited, ...env });
        expect(resolved.settings).toEqual(settings);
        expect(env.QTOOL_PROFILE).toBe('');
      }),
    );
  });

  it('parses any URL it prints back to the same connection (the password aside)', () => {
    // Found by this property: WHATWG URL reads a '.' vhost as a path step and drops it.
    for (const vhost of ['.', '..']) {
      expect(parseAmqpUrl(maskedUrl({ ...DEFAULT_SETTINGS, vhost })).vhost).toBe(vhost);
      expect(parseAmqpUrl(`amqp://h/${vhost}`).vhost).toBe(vhost);
    }
    fc.assert(
      fc.property(settingsArbitrary, (settings) => {
        const parsed = parseAmqpUrl(maskedUrl(settings));
        expect(parsed).toMatchObject({
          protocol: settings.protocol,
          hostname: settings.hostname,
          port: settings.port,
          vhost: settings.vhost,
          username: settings.username,
        });
      }),
      { numRuns: 500 },
    );
  });

  it('lets flag beat environment beat profile beat default for every option', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('queue', 'vhost', 'username'),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        (option, present) => {
          const [inFlag, inEnv, inProfile] = present;
          const spec = CONNECTION_OPTIONS.find((candidate) => candidate.name === option);
          const flags = inFlag ? { [option]: 'from-flag' } : {};
          const env = inEnv ? { [spec?.env as string]: 'from-env' } : {};
          const profile = inProfile ? { name: 'p', flags: { [option]: 'from-profile' } } : undefined;
          const { settings } = resolveConnection(flags, env, profile);
          const field = option as 'queue' | 'vhost' | 'username';
          const expected = inFlag
            ? 'from-flag'
            : inEnv
              ? 'from-env'
              : inProfile
                ? 'from-profile'
                : DEFAULT_SETTINGS[field];
          expect(settings[field]).toBe(expected);
        },
      ),
    );
  });
});

describe('bad connection values', () => {
  it('refuses control characters in names from any source, naming where and which', () => {
    expect(() => resolveConnection({ queue: 'a\u0015b' }, {})).toThrow(
      /--queue contains a control character \(U\+0015\)/,
    );
    expect(() => resolveConnection({}, { QTOOL_VHOST: 'v\r' })).toThrow(
      /QTOOL_VHOST contains a control character \(U\+000D\)/,
    );
    expect(() => resolveConnection({}, {}, { name: 'lab', flags: { username: 'u\u001b[2J' } })).toThrow(
      /profile 'lab' username contains a control character \(U\+001B\)/,
    );
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 0x1f }), fc.string(), (before, code, after) => {
        expect(() =>
          resolveConnection({ queue: `${before}${String.fromCharCode(code)}${after}x` }, {}),
        ).toThrow(UsageError);
      }),
    );
  });

  it('never echoes a password typed into --host', () => {
    for (const text of ['admin:s3cret@rabbit', 'admin:s3cret@rabbit:5672', 'amqp://admin:s3cret@rabbit']) {
      expect(() => parseHostPort(text)).toThrow(UsageError);
      try {
        parseHostPort(text);
      } catch (error) {
        expect(`${(error as UsageError).message} ${(error as UsageError).hint}`).not.toContain('s3cret');
      }
    }
    expect(() => parsePort('s3cret@h', '--host')).toThrow(/--host: the value given is not a port/);
  });

  it("turns a stray % in a URL's password into a usage error that does not echo it", () => {
    const attempt = () => parseAmqpUrl('amqp://user:50%off@host/v');
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(/--url: the password holds a '%' that is not followed by two hex digits/);
    expect(parseAmqpUrl('amqp://user:50%25off@host/v').password).toBe('50%off');
  });

  it('refuses names over 255 bytes with the length', () => {
    expect(() => resolveConnection({ queue: 'é'.repeat(128) }, {})).toThrow(
      /--queue is 256 bytes long; AMQP allows at most 255/,
    );
  });

  it('reads on/off switches from variables and profiles, and refuses anything else', () => {
    expect(resolveConnection({}, { QTOOL_TLS: 'yes' }).settings.protocol).toBe('amqps');
    expect(resolveConnection({}, { QTOOL_TLS: '0' }).settings.protocol).toBe('amqp');
    expect(resolveConnection({}, {}, { name: 'p', flags: { tls: true } }).settings.port).toBe(5671);
    expect(() => resolveConnection({}, { QTOOL_TLS: 'maybe' })).toThrow(
      /QTOOL_TLS: 'maybe' is neither on nor off/,
    );
  });

  it("refuses an inherited AMQP_URL that would turn a TLS profile's connection into plain amqp", () => {
    const profile = { name: 'lab', flags: { host: 'lab.example.org', password: 'Lab-Pw-1', tls: true } };
    expect(() => resolveConnection({}, { AMQP_URL: 'amqp://localhost:5698' }, profile)).toThrow(
      /the environment \(QTOOL_TLS or AMQP_URL\) asks for plain amqp, but profile 'lab' asks for TLS/,
    );
    // Said on the command line, it is the user's choice; an amqps URL keeps TLS anyway.
    expect(resolveConnection({ url: 'amqp://localhost:5698' }, {}, profile).settings.protocol).toBe('amqp');
    expect(resolveConnection({}, { AMQP_URL: 'amqps://localhost' }, profile).settings.protocol).toBe('amqps');
    expect(
      resolveConnection({ tls: true }, { AMQP_URL: 'amqp://localhost' }, profile).settings.protocol,
    ).toBe('amqps');
  });

  it('refuses a folder given as a TLS file, as a usage error', () => {
    expect(() => resolveConnection({ tls: true, ca: '/tmp' }, {})).toThrow(/--ca: \/tmp is not a file/);
  });
});
