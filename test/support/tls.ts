/**
 * TLS for tests: certificates made with openssl at run time, and a throwaway node that listens for
 * amqps (and, when asked, serves the management API over https) on them.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalNode } from '../../src/broker/local-node.js';
import { pickFreePorts } from '../../src/broker/ports.js';
import { nodeTmpDir, pathAsNodeSees, startTestNode } from './nodes.js';

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30_000 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`openssl ${args.join(' ')}: ${stderr}`)) : resolve(),
    );
  });
}

export interface TestCertificates {
  /** The CA that signed the server's certificate. */
  ca: string;
  /** A CA that signed nothing this broker uses: trusting it alone must not be enough. */
  otherCa: string;
  serverCert: string;
  serverKey: string;
}

/** A CA, a server certificate for DNS name `localhost` only (not 127.0.0.1), and an unrelated CA. */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  await mkdir(dir, { recursive: true });
  const subject = (cn: string) => ['-subj', `/CN=${cn}`];
  const newCa = (name: string) =>
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-keyout',
        `${name}-key.pem`,
        '-out',
        `${name}.pem`,
      ].concat(subject(`qtool test ${name}`)),
      dir,
    );
  await newCa('ca');
  await newCa('other-ca');
  await openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server-key.pem',
      '-out',
      'server.csr',
      ...subject('localhost'),
    ],
    dir,
  );
  await writeFile(join(dir, 'server.ext'), 'subjectAltName = DNS:localhost\n');
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      'server.pem',
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  return {
    ca: join(dir, 'ca.pem'),
    otherCa: join(dir, 'other-ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
  };
}

export interface TlsNode {
  node: LocalNode;
  certificates: TestCertificates;
  /** The amqps port; node.amqpPort stays the plain one. */
  tlsPort: number;
  /** The https management port, when asked for. */
  managementTlsPort: number | null;
  stop(): Promise<void>;
}

/**
 * A node of the test's own with an amqps listener on fresh certificates. Its folder (certificates
 * included, owned by the rabbitmq user as the node requires) is removed by stop().
 */
export async function startTlsNode(options: { managementTls?: boolean } = {}): Promise<TlsNode> {
  const baseDir = await mkdtemp(join(nodeTmpDir(), 'qtool-tls-node-'));
  const certificates = await makeCertificates(join(baseDir, 'certs'));
  const [tlsPort, managementTlsPort] = await pickFreePorts(2);
  // In e2e-4.0 the node runs in a chroot, where these files have shorter paths.
  const ssl = {
    cacertfile: pathAsNodeSees(certificates.ca),
    certfile: pathAsNodeSees(certificates.serverCert),
    keyfile: pathAsNodeSees(certificates.serverKey),
  };
  const extraConfig: Record<string, string> = {
    'listeners.ssl.default': String(tlsPort),
    'ssl_options.cacertfile': ssl.cacertfile,
    'ssl_options.certfile': ssl.certfile,
    'ssl_options.keyfile': ssl.keyfile,
    'ssl_options.verify': 'verify_none',
    'ssl_options.fail_if_no_peer_cert': 'false',
  };
  if (options.managementTls) {
    extraConfig['management.ssl.port'] = String(managementTlsPort);
    extraConfig['management.ssl.ip'] = '127.0.0.1';
    extraConfig['management.ssl.cacertfile'] = ssl.cacertfile;
    extraConfig['management.ssl.certfile'] = ssl.certfile;
    extraConfig['management.ssl.keyfile'] = ssl.keyfile;
  }
  try {
    const node = await startTestNode({
      baseDir,
      management: options.managementTls === true,
      extraConfig,
    });
    return {
      node,
      certificates,
      tlsPort: tlsPort as number,
      managementTlsPort: options.managementTls ? (managementTlsPort as number) : null,
      async stop() {
        await node.stop();
        await rm(baseDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(baseDir, { recursive: true, force: true });
    throw error;
  }
}
