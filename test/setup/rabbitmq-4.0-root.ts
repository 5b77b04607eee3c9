/**
 * The Debian 13 system root that the tests' RabbitMQ 4.0 nodes run in (through chroot), made by
 * .ci/rabbitmq-4.0-root. Debian 12, the machine the tests run on, ships RabbitMQ 3.10 only.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Where the root lives; the script's default is /var/cache/qtool/rabbitmq-4.0-root. */
export const ROOT_VARIABLE = 'QTOOL_RABBITMQ_40_ROOT';
/** Set to 1 to leave the RabbitMQ 4.0 end-to-end tests out of a local run (refused in CI). */
export const SKIP_VARIABLE = 'QTOOL_TEST_SKIP_RABBITMQ_40';

export const ROOT_SCRIPT = fileURLToPath(new URL('../../.ci/rabbitmq-4.0-root', import.meta.url));

/**
 * Runs .ci/rabbitmq-4.0-root: it builds the root when it is missing (about 2 minutes, once per
 * machine, root only), mounts its /proc when needed, and prints its path. Its progress lines go to
 * `log`. Rejects with the script's own reason and what to do about it.
 */
export function ensureRabbitmq40Root(log: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      ROOT_SCRIPT,
      [],
      { encoding: 'utf8', timeout: 15 * 60_000 },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout.trim());
          return;
        }
        const reason = stderr.trim() || error.message;
        reject(
          new Error(
            [
              `The RabbitMQ 4.0 tests (project e2e-4.0) need a Debian 13 root with RabbitMQ 4.0, and ${ROOT_SCRIPT} could not provide it:`,
              `  ${reason.split('\n').join('\n  ')}`,
              `Build it once as root: sudo ${ROOT_SCRIPT}`,
              `  (${ROOT_VARIABLE} chooses where; default /var/cache/qtool/rabbitmq-4.0-root),`,
              `or leave RabbitMQ 4.0 out of a local run: ${SKIP_VARIABLE}=1 npm test (not allowed in CI).`,
            ].join('\n'),
          ),
        );
      },
    );
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim() !== '') log(line);
    });
  });
}
