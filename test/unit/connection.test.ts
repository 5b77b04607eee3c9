import { describe, expect, it } from 'vitest';
import {
  hostAndPort,
  maskedUrl,
  nodesOf,
  parseAmqpUrl,
  parseHostPort,
  resolveConnection,
} from '../../src/config/connection.js';
import { scrubSecrets } from '../../src/config/secrets.js';
import { UsageError } from '../../src/errors.js';

describe('resolveConnection', () => {
  it('uses the defaults when nothing is given', () => {
    const { settings, sources } = resolveConnection({}, {});
    expect(settings).toEqual({
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
    });
    expect(Object.values(sources).every((source) => source === 'default')).toBe(true);
  });

  it('prefers a flag over the environment over the default, field by field', () => {
    const { settings, sources } = resolveConnection(
      { host: 'flaghost', queue: 'q-flag' },
      { QTOOL_HOST: 'envhost', QTOOL_VHOST: 'student1', QTOOL_QUEUE: 'q-env', QTOOL_HEARTBEAT: '5' },
    );
    expect(settings.hostname).toBe('flaghost');
    expect(sources.hostname).toBe('flag');
    expect(settings.vhost).toBe('student1');
    expect(sources.vhost).toBe('env');
    expect(settings.queue).toBe('q-flag');
    expect(settings.heartbeat).toBe(5);
    expect(sources.port).toBe('default');
  });

  it('lets single flags override parts of --url, and --url override AMQP_URL', () => {
    const { settings } = resolveConnection(
      { url: 'amqp://alice:pw@broker:5673/lab', vhost: 'other' },
      { AMQP_URL: 'amqp://bob:x@envbroker:1234/envvhost?heartbeat=9' },
    );
    expect(settings).toMatchObject({
      hostname: 'broker',
      port: 5673,
      username: 'alice',
      password: 'pw',
      vhost: 'other',
      heartbeat: 9, // from AMQP_URL: no flag named it
    });
  });

  it('lets a flag win over a URL given in the environment even for parts the flag layer lacks', () => {
    const { settings, sources } = resolveConnection({ host: 'h2' }, { AMQP_URL: 'amqp://u:p@h1:6000/v' });
    expect(settings.hostname).toBe('h2');
    expect(settings.port).toBe(6000);
    expect(sources.port).toBe('env');
  });

  it('takes host:port from --host, and --port over it', () => {
    expect(resolveConnection({ host: 'rabbit:5999' }, {}).settings.port).toBe(5999);
    expect(resolveConnection({ host: 'rabbit:5999', port: '6001' }, {}).settings.port).toBe(6001);
  });

  it('defaults to 5671 for amqps unless a port is given', () => {
    expect(resolveConnection({ url: 'amqps://h' }, {}).settings.port).toBe(5671);
    expect(resolveConnection({ url: 'amqps://h:1234' }, {}).settings.port).toBe(1234);
  });

  it('ignores empty environment variables', () => {
    expect(resolveConnection({}, { QTOOL_HOST: '' }).settings.hostname).toBe('localhost');
  });

  it.each([
    [{ port: 'abc' }, /--port/],
    [{ port: '0' }, /--port/],
    [{ port: '70000' }, /--port/],
    [{ heartbeat: '-1' }, /--heartbeat/],
    [{ heartbeat: '1.5' }, /--heartbeat/],
    [{ url: 'http://h' }, /amqp:\/\//],
    [{ url: 'not a url' }, /not a valid URL/],
    [{ queue: '' }, /--queue/],
  ])('refuses %o as a usage error', (flags, message) => {
    expect(() => resolveConnection(flags, {})).toThrow(UsageError);
    expect(() => resolveConnection(flags, {})).toThrow(message);
  });

  it('names the environment variable when its value is bad', () => {
    expect(() => resolveConnection({}, { QTOOL_PORT: 'x' })).toThrow(/QTOOL_PORT/);
  });

  it('never echoes a bad URL, which may hold a password', () => {
    try {
      resolveConnection({ url: 'amqp://u:s3cret@[bad' }, {});
      expect.unreachable();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('s3cret');
    }
  });
});

describe('parseAmqpUrl', () => {
  it.each([
    ['amqp://h', undefined],
    ['amqp://h/', undefined],
    ['amqp://h/%2F', '/'],
    ['amqp://h/student1', 'student1'],
    ['amqp://h/a%2Fb', 'a/b'],
  ])('reads the vhost of %s as %s', (url, vhost) => {
    expect(parseAmqpUrl(url).vhost).toBe(vhost);
  });

  it('decodes percent-encoded user and password', () => {
    expect(parseAmqpUrl('amqp://us%40er:p%3Ass@h')).toMatchObject({ username: 'us@er', password: 'p:ss' });
  });
});

describe('parseHostPort', () => {
  it.each([
    ['rabbit', { hostname: 'rabbit' }],
    ['rabbit:5673', { hostname: 'rabbit', port: 5673 }],
    ['[::1]', { hostname: '::1' }],
    ['[::1]:5673', { hostname: '::1', port: 5673 }],
    ['::1', { hostname: '::1' }],
  ])('reads %s', (text, expected) => {
    expect(parseHostPort(text)).toEqual(expected);
  });
});

describe('maskedUrl', () => {
  it('shows the user and an encoded vhost, never the password', () => {
    const { settings } = resolveConnection({ url: 'amqp://student1:1Password@10.0.0.5/a%2Fb' }, {});
    const shown = maskedUrl(settings);
    expect(shown).toBe('amqp://student1@10.0.0.5:5672/a%2Fb');
    expect(shown).not.toContain('1Password');
  });

  it('encodes the default vhost as %2F and brackets IPv6 hosts', () => {
    expect(maskedUrl(resolveConnection({ host: '::1' }, {}).settings)).toBe('amqp://guest@[::1]:5672/%2F');
    expect(hostAndPort({ hostname: '::1', port: 5672 })).toBe('[::1]:5672');
  });
});

describe('scrubSecrets', () => {
  it('removes every password qtool was given, raw or percent-encoded', () => {
    resolveConnection({ password: 'p@ss word' }, {});
    expect(scrubSecrets('said p@ss word and p%40ss%20word')).toBe('said *** and ***');
  });

  it('scrubs a password that is also a word only where a password sits, so messages stay readable', () => {
    resolveConnection({ password: 'wrong' }, {});
    expect(scrubSecrets('refused the login: wrong username or password (amqp://bob:wrong@host)')).toBe(
      'refused the login: wrong username or password (amqp://bob:***@host)',
    );
    resolveConnection({ password: 'Wrong-1' }, {});
    expect(scrubSecrets('echoed Wrong-1 back')).toBe('echoed *** back');
  });

  it('leaves the well-known guest password alone, so the user name guest stays readable', () => {
    resolveConnection({}, {});
    expect(scrubSecrets("user 'guest'")).toBe("user 'guest'");
  });
});

describe('several nodes of a cluster', () => {
  it('takes --host a,b:5673,c as the first node and the others to fail over to, in order', () => {
    const { settings } = resolveConnection({ host: 'a,b:5673,c', port: '5700' }, {});
    expect(nodesOf(settings).map(hostAndPort)).toEqual(['a:5700', 'b:5673', 'c:5700']);
  });

  it('takes several comma-separated URLs, and keeps a comma inside a password', () => {
    const { settings } = resolveConnection({ url: 'amqp://u:p,w@a:5701/v,amqp://u:p,w@b:5702/v' }, {});
    expect(settings.password).toBe('p,w');
    expect(nodesOf(settings).map(hostAndPort)).toEqual(['a:5701', 'b:5702']);
  });

  it('refuses URLs that differ in more than host and port, without echoing them', () => {
    expect(() => resolveConnection({ url: 'amqp://u:secret1@a/v,amqp://u:secret2@b/v' }, {})).toThrow(
      /differ in more than host and port/,
    );
    try {
      resolveConnection({ url: 'amqp://u:secret1@a/v,amqp://u:secret2@b/v' }, {});
    } catch (error) {
      expect(String((error as Error).message)).not.toMatch(/secret/);
    }
  });

  it('lets a single --host on the command line replace a list from the environment', () => {
    const { settings } = resolveConnection({ host: 'solo' }, { QTOOL_HOST: 'a,b,c' });
    expect(nodesOf(settings).map((node) => node.hostname)).toEqual(['solo']);
  });

  it('refuses an empty entry in the list', () => {
    expect(() => resolveConnection({ host: 'a,,b' }, {})).toThrow(/empty entry/);
  });
});
