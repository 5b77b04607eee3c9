/**
 * TLS for tests: certificates made with openssl at run time, and a throwaway node that listens for
 * amqps (and, when asked, serves the management API over https) on them.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
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

/** How many nodes startTlsNode starts before it gives up on finding its TLS ports free. */
const TLS_NODE_ATTEMPTS = 3;

/**
 * A node of the test's own with an amqps listener on fresh certificates. Its folder (certificates
 * included, owned by the rabbitmq user as the node requires) is removed by stop().
 *
 * Its TLS ports are free when picked, but a node that another test file starts meanwhile can take
 * one, and RabbitMQ 3.10 then boots without that listener: the tests would talk to the other node
 * ("does not speak TLS"). So each TLS port must answer a TLS handshake, or the node is stopped and
 * another one started on new ports.
 */
export async function startTlsNode(
  options: { managementTls?: boolean } = {},
  attemptsLeft = TLS_NODE_ATTEMPTS,
): Promise<TlsNode> {
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
    const started: TlsNode = {
      node,
      certificates,
      tlsPort: tlsPort as number,
      managementTlsPort: options.managementTls ? (managementTlsPort as number) : null,
      async stop() {
        await node.stop();
        await rm(baseDir, { recursive: true, force: true });
      },
    };
    const ports = [
      started.tlsPort,
      ...(started.managementTlsPort === null ? [] : [started.managementTlsPort]),
    ];
    if ((await Promise.all(ports.map(speaksTls))).every(Boolean)) return started;
    console.warn(
      `startTlsNode: a TLS port of ${ports.join(', ')} answers no TLS (another process took it): starting again`,
    );
    await started.stop();
    if (attemptsLeft <= 1) {
      throw new Error(
        `no TLS node after ${TLS_NODE_ATTEMPTS} tries: another process took its TLS ports each time`,
      );
    }
    return startTlsNode(options, attemptsLeft - 1);
  } catch (error) {
    await rm(baseDir, { recursive: true, force: true });
    throw error;
  }
}

/** Whether a TLS server (any certificate) answers a handshake on 127.0.0.1:`port`, within 5 s. */
function speaksTls(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      rejectUnauthorized: false,
    });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(5_000, () => done(false));
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}
