import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortAnswering } from '../../src/broker/local-node.js';
import { eventually } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { runCli } from '../support/cli.js';
import { canStartTestNodes } from '../support/nodes.js';
import { startTlsNode, type TlsNode } from '../support/tls.js';

/**
 * amqps against a node of this file's own, on certificates made at run time: the server's names
 * `localhost` only, so connecting to 127.0.0.1 is a name mismatch worth its own test.
 */
describe.skipIf(!canStartTestNodes()).sequential('TLS', () => {
  let tls: TlsNode;
  let url: string;

  beforeAll(async () => {
    tls = await startTlsNode({ managementTls: true });
    url = `amqps://guest:guest@localhost:${tls.tlsPort}`;
    await eventually(() => isPortAnswering('127.0.0.1', tls.tlsPort, 500), 'the amqps listener', 30_000);
  }, 180_000);

  afterAll(async () => {
    await tls?.stop();
  }, 120_000);

  it('connects with the CA that signed the broker certificate, and messages go through', async () => {
    const queue = uniqueName('tls');
    const env = { AMQP_URL: url, QTOOL_CA: tls.certificates.ca };
    const sent = await runCli(['send', '--queue', queue, 'over tls'], { env });
    expect(sent.exitCode, sent.stderr).toBe(0);
    expect(sent.stderr).toContain(`amqps://guest@localhost:${tls.tlsPort}`);
    const received = await runCli(['receive', '--queue', queue, '--count', '1'], { env });
    expect(received.stdout).toBe('over tls\n');
    // The same with flags instead of a URL: --tls and the default TLS port logic.
    const byFlags = await runCli(
      [
        'send',
        '--tls',
        '--host',
        `localhost:${tls.tlsPort}`,
        '--ca',
        tls.certificates.ca,
        '--queue',
        queue,
        'x',
      ],
      {},
    );
    expect(byFlags.exitCode, byFlags.stderr).toBe(0);
  });

  it('refuses a broker whose certificate another CA signed, naming the cause', async () => {
    const result = await runCli(['send', '--url', url, '--ca', tls.certificates.otherCa, 'x'], {});
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      /TLS certificate at localhost:\d+ was refused: it is signed by a CA this connection does not trust/,
    );
    expect(result.stderr).toContain(`the CA in ${tls.certificates.otherCa}`);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("refuses it with the system's CAs too", async () => {
    const result = await runCli(['send', '--url', url, 'x'], {});
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/was refused: .*CA this connection does not trust.*\n.*the system's CAs/);
  });

  it('checks the name: 127.0.0.1 is not in the certificate, --servername localhost is', async () => {
    const byAddress = `amqps://guest:guest@127.0.0.1:${tls.tlsPort}`;
    const mismatch = await runCli(['send', '--url', byAddress, '--ca', tls.certificates.ca, 'x'], {});
    expect(mismatch.exitCode).toBe(1);
    expect(mismatch.stderr).toMatch(
      /was refused: it was issued for another name \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
    );
    const named = await runCli(
      [
        'send',
        '--url',
        byAddress,
        '--ca',
        tls.certificates.ca,
        '--servername',
        'localhost',
        '--queue',
        uniqueName('sni'),
        'x',
      ],
      {},
    );
    expect(named.exitCode, named.stderr).toBe(0);
  });

  it('--insecure connects without verifying, and says so in one line', async () => {
    const result = await runCli(
      ['send', '--url', url, '--insecure', '--queue', uniqueName('insecure'), 'x'],
      {},
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const warnings = result.stderr.split('\n').filter((line) => /--insecure/.test(line));
    expect(warnings).toEqual([expect.stringMatching(/not verified/)]);
  });

  it('says when the port does not speak TLS', async () => {
    const result = await runCli(
      ['send', '--tls', '--host', `localhost:${tls.node.amqpPort}`, '--insecure', 'x'],
      {},
    );
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/does not speak TLS/);
  });

  it('refuses TLS options on a plain connection, and unreadable files, as usage errors', async () => {
    const stray = await runCli(
      ['send', '--url', `amqp://localhost:${tls.node.amqpPort}`, '--ca', tls.certificates.ca, 'x'],
      {},
    );
    expect(stray.exitCode).toBe(2);
    expect(stray.stderr).toMatch(/--ca applies to TLS connections only/);
    const missing = await runCli(['send', '--url', url, '--ca', '/nonexistent/ca.pem', 'x'], {});
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('--ca: cannot read /nonexistent/ca.pem');
    const half = await runCli(['send', '--url', url, '--cert', tls.certificates.serverCert, 'x'], {});
    expect(half.exitCode).toBe(2);
    expect(half.stderr).toMatch(/needs both --cert and --key/);
  });

  it('login saves the TLS settings, and the profile connects with them', async () => {
    const { mkdtemp, rm, readFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const folder = await mkdtemp(join(tmpdir(), 'qtool-tls-profile-'));
    try {
      const env = { XDG_CONFIG_HOME: folder };
      const login = await runCli(
        ['login', '--profile', 'secure', '--url', url, '--ca', tls.certificates.ca],
        { env },
      );
      expect(login.exitCode, login.stderr).toBe(0);
      const saved = JSON.parse(await readFile(join(folder, 'qtool', 'config.json'), 'utf8')).profiles.secure;
      expect(saved).toMatchObject({
        tls: true,
        ca: tls.certificates.ca,
        host: 'localhost',
        port: tls.tlsPort,
      });
      const sent = await runCli(['send', '--profile', 'secure', '--queue', uniqueName('tls-profile'), 'x'], {
        env,
      });
      expect(sent.exitCode, sent.stderr).toBe(0);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('reaches the management API over https with the same CA, never over plain http', async () => {
    const queue = uniqueName('tls-status');
    await runCli(['send', '--url', url, '--ca', tls.certificates.ca, '--queue', queue, 'a', 'b'], {});
    // Without --management-url a TLS connection looks for https on 15671 of the same host.
    const guessed = await runCli(['status', queue, '--url', url, '--ca', tls.certificates.ca], {});
    expect(guessed.exitCode, guessed.stderr).toBe(0);
    expect(guessed.stderr).toMatch(/https:\/\/localhost:15671/);
    expect(guessed.stderr).not.toMatch(/http:\/\/localhost/);

    const managementUrl = `https://localhost:${tls.managementTlsPort}`;
    await eventually(
      () => isPortAnswering('127.0.0.1', tls.managementTlsPort as number, 500),
      'https management',
      30_000,
    );
    let shown = '';
    await eventually(
      async () => {
        const result = await runCli(
          [
            'status',
            queue,
            '--url',
            url,
            '--ca',
            tls.certificates.ca,
            '--management-url',
            managementUrl,
            '--json',
          ],
          {},
        );
        shown = result.stdout + result.stderr;
        return result.exitCode === 0 && JSON.parse(result.stdout).source === 'management';
      },
      'status to use the https management API',
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${shown}`);
    });

    // --insecure means the same for the API as for AMQP: encrypted, not verified, and said once.
    const insecure = await runCli(
      ['status', queue, '--url', url, '--insecure', '--management-url', managementUrl],
      {},
    );
    expect(insecure.exitCode, insecure.stderr).toBe(0);
    expect(insecure.stderr).toMatch(/source: management API at https:/);
    expect(insecure.stderr.match(/not verified/g)).toHaveLength(1);
  });
});
