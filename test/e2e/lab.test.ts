import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTmux } from '../../src/tmux/tmux.js';
import { eventually } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { childEnv, QTOOL_BIN, runCli } from '../support/cli.js';

/**
 * `qtool lab` in a real tmux, headless: a tmux server of this file's own (its socket in a
 * temporary TMUX_TMPDIR), so no session of the person running the tests is touched.
 */
const tmuxPath = findTmux(process.env);
const broker = testBroker();

describe.skipIf(tmuxPath === null)('qtool lab', () => {
  let tmuxDir: string;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    tmuxDir = await mkdtemp(join(tmpdir(), 'qtool-tmux-'));
    // HOME is the empty tmuxDir too: the panes' shells then read none of the tester's start-up
    // files, which may be slow or wait on locks of their own (pyenv's rehash does).
    env = { AMQP_URL: broker.amqpUrl, TMUX_TMPDIR: tmuxDir, TMUX: undefined, HOME: tmuxDir };
  });

  afterAll(async () => {
    // Only this file's tmux server: its socket lives in tmuxDir.
    await tmux(['kill-server']).catch(() => {});
    await rm(tmuxDir, { recursive: true, force: true });
  });

  function tmux(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        tmuxPath as string,
        args,
        { env: childEnv({ TMUX_TMPDIR: tmuxDir, TMUX: undefined, HOME: tmuxDir }), encoding: 'utf8' },
        (error, stdout, stderr) =>
          error ? reject(new Error(`tmux ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
      );
    });
  }

  /** The session's panes: id and title, in tmux's order (workers first, then watch and shell). */
  async function panes(session: string): Promise<{ id: string; title: string }[]> {
    const out = await tmux(['list-panes', '-t', `=${session}`, '-F', '#{pane_id}\t#{@qtool_title}']);
    return out
      .trim()
      .split('\n')
      .map((line) => {
        const [id = '', title = ''] = line.split('\t');
        return { id, title };
      });
  }

  /** A pane's text, with wrapped lines joined (-J) so a long line reads as one. */
  const capture = (pane: string) => tmux(['capture-pane', '-p', '-J', '-t', pane]);

  async function waitForPane(pane: string, pattern: RegExp, what: string): Promise<string> {
    let text = '';
    try {
      await eventually(
        async () => {
          text = await capture(pane);
          return pattern.test(text);
        },
        `${what} in pane ${pane}`,
        20_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; the pane shows:\n${text}`);
    }
    return text;
  }

  it('opens n workers, watch and a shell on one queue; messages typed in the shell spread over the workers', async () => {
    const session = uniqueName('lab');
    const queue = uniqueName('lab-q');
    const result = await runCli(
      [
        'lab',
        '--detach',
        '--session',
        session,
        '--workers',
        '3',
        '--queue',
        queue,
        '--delay-per-char',
        '0.1',
        '--acknowledge',
        '--prefetch',
        '1',
      ],
      { env },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain(`Lab session '${session}': 3 workers (w1-w3), qtool watch and a shell`);
    expect(result.stderr).toContain(`qtool lab --kill --session ${session}`);

    const layout = await panes(session);
    expect(layout.map((pane) => pane.title)).toEqual([
      'worker w1',
      'worker w2',
      'worker w3',
      'qtool watch',
      'shell: qtool send ...',
    ]);
    const [w1, w2, w3, watch, shell] = layout.map((pane) => pane.id) as [
      string,
      string,
      string,
      string,
      string,
    ];

    // Each worker runs qprocessor with the lab's options on the queue, and shows the command it runs.
    for (const [index, pane] of [w1, w2, w3].entries()) {
      const text = await waitForPane(pane, /waiting for messages/, 'the worker to start');
      expect(text).toContain(
        `qtool qprocessor --name w${index + 1} --acknowledge --prefetch 1 --delay-per-char 0.1`,
      );
      expect(text).toContain(`'${queue}'`);
      expect(text).toContain('acks after the work, prefetch 1');
    }
    await eventually(
      async () => (await capture(shell)).includes('Send from here'),
      'the shell pane to show its hint',
    );

    // Type messages in the shell pane, as a student would.
    await tmux(['send-keys', '-t', shell, '-l', 'qtool send aaaa bbbb cccc dddd eeee ffff']);
    await tmux(['send-keys', '-t', shell, 'Enter']);
    await waitForPane(shell, /sent 6 messages .* all confirmed/, 'the send summary');

    // Every message is processed exactly once, and every worker took some.
    const processed = new Map<string, string[]>();
    await eventually(
      async () => {
        for (const [index, pane] of [w1, w2, w3].entries()) {
          const bodies = [...(await capture(pane)).matchAll(/processed "(\w+)"/g)].map(
            (match) => match[1] as string,
          );
          processed.set(`w${index + 1}`, bodies);
        }
        return [...processed.values()].flat().length >= 6;
      },
      'six processed messages across the workers',
      30_000,
    );
    expect([...processed.values()].flat().sort()).toEqual(['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee', 'ffff']);
    for (const bodies of processed.values()) expect(bodies.length).toBeGreaterThan(0);

    // The watch pane follows the same queue, with the three workers as consumers.
    const watchText = await waitForPane(
      watch,
      new RegExp(`${queue.slice(0, 12)}.*\\s0\\s.*\\s3\\b`),
      'the watch pane to show the drained queue and three consumers',
    );
    expect(watchText).toContain('qtool watch');

    // A second lab of the same name is refused, the first left as it was.
    const again = await runCli(['lab', '--detach', '--session', session], { env });
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain(`a tmux session '${session}' already exists`);
    expect(await panes(session)).toHaveLength(5);

    const kill = await runCli(['lab', '--kill', '--session', session], { env });
    expect(kill.exitCode, kill.stderr).toBe(0);
    expect(kill.stderr).toContain(`Ended tmux session '${session}'`);
    await expect(tmux(['has-session', '-t', `=${session}`])).rejects.toThrow();
    // The workers were stopped with their panes: the queue has no consumer left.
    await eventually(async () => {
      const state = await runCli(['status', queue, '--json', '--no-management'], { env });
      return (JSON.parse(state.stdout) as { queues: { consumers: number }[] }).queues[0]?.consumers === 0;
    }, 'the workers to disconnect');

    const twice = await runCli(['lab', '--kill', '--session', session], { env });
    expect(twice.exitCode).toBe(1);
    expect(twice.stderr).toContain(`There is no tmux session '${session}'`);
  }, 120_000);

  it.skipIf(!broker.hasCtl)(
    'passes the password to the panes without showing it anywhere',
    async () => {
      const user = uniqueName('labuser');
      const password = `pw-${uniqueName('secret')}`;
      await broker.ctl(['add_user', user, password]);
      await broker.ctl(['set_permissions', '-p', '/', user, '.*', '.*', '.*']);
      try {
        const session = uniqueName('lab-pw');
        const { hostname, port } = new URL(broker.amqpUrl);
        const result = await runCli(
          [
            'lab',
            '--detach',
            '--session',
            session,
            '--workers',
            '1',
            '--host',
            `${hostname}:${port || 5672}`,
            '--username',
            user,
            '--password',
            password,
            '--queue',
            uniqueName('lab-pw-q'),
          ],
          { env: { ...env, AMQP_URL: undefined } },
        );
        expect(result.exitCode, result.stderr).toBe(0);
        const layout = await panes(session);
        const worker = layout[0]?.id as string;
        // The worker logged in as that user: the password reached it.
        const text = await waitForPane(worker, /waiting for messages/, 'the worker to connect');
        expect(text).toContain(`amqp://${user}@`);
        for (const pane of layout) expect(await capture(pane.id)).not.toContain(password);
        expect(`${result.stdout}${result.stderr}`).not.toContain(password);
        expect((await runCli(['lab', '--kill', '--session', session], { env })).exitCode).toBe(0);
      } finally {
        await broker.ctl(['delete_user', user]);
      }
    },
    60_000,
  );

  it('inside tmux, opens the lab as a new window of the current session, and --kill closes only it', async () => {
    const outer = uniqueName('outer');
    const inner = uniqueName('inner');
    const queue = uniqueName('lab-in-q');
    const qtool = `'${process.execPath}' '${QTOOL_BIN}'`;
    await tmux(['new-session', '-d', '-s', outer, '-x', '160', '-y', '48']);
    const typeIn = async (line: string) => {
      await tmux(['send-keys', '-t', `=${outer}:0`, '-l', line]);
      await tmux(['send-keys', '-t', `=${outer}:0`, 'Enter']);
    };
    // A person working in tmux: TMUX is set in this shell, by tmux itself.
    await typeIn(
      `export AMQP_URL='${broker.amqpUrl}'; ${qtool} lab --detach --session ${inner} --workers 2 --queue ${queue}; echo "lab-rc=$?"`,
    );
    await waitForPane(`=${outer}:0`, /lab-rc=0/, 'qtool lab to finish');
    expect(await capture(`=${outer}:0`)).toContain(`Lab window '${inner}': 2 workers (w1-w2)`);

    const windows = async () =>
      (await tmux(['list-windows', '-t', `=${outer}`, '-F', '#{window_name} #{window_panes}']))
        .trim()
        .split('\n');
    expect(await windows()).toEqual([expect.stringMatching(/ 1$/), `${inner} 4`]);
    // Its workers run on the queue like a session's would.
    const [worker] = (await tmux(['list-panes', '-t', `=${outer}:${inner}`, '-F', '#{pane_id}']))
      .trim()
      .split('\n');
    await waitForPane(
      worker as string,
      new RegExp(`waiting for messages on '${queue}'`),
      'the worker to start',
    );

    await typeIn(`${qtool} lab --kill --session ${inner}; echo "kill-rc=$?"`);
    await waitForPane(`=${outer}:0`, /kill-rc=0/, 'qtool lab --kill to finish');
    expect(await capture(`=${outer}:0`)).toContain(`Closed the lab window '${inner}'`);
    expect(await windows()).toHaveLength(1);
    await tmux(['kill-session', '-t', `=${outer}`]);
  }, 60_000);

  it('says how to install tmux when it is missing', async () => {
    const emptyPath = await mkdtemp(join(tmpdir(), 'qtool-no-tmux-'));
    try {
      const result = await runCli(['lab', '--detach'], { env: { ...env, PATH: emptyPath } });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain('qtool lab needs tmux, which is not installed');
      expect(result.stderr).toContain('apt-get install tmux');
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await rm(emptyPath, { recursive: true, force: true });
    }
  });

  it('refuses a session name tmux cannot target as a usage error', async () => {
    const result = await runCli(['lab', '--detach', '--session', 'a:b'], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("--session: 'a:b' cannot name a tmux session");
  });

  it('refuses control characters in the queue name, from a flag or a trusted folder file, before tmux', async () => {
    // Typed into a pane's shell, Ctrl-U (U+0015) would erase the line and a CR run what follows.
    const injected = 'hello\u0015touch /tmp/qtool-pwned\r';
    const byFlag = await runCli(['lab', '--detach', '--session', uniqueName('inj'), '--queue', injected], {
      env,
    });
    expect(byFlag.exitCode).toBe(2);
    expect(byFlag.stderr).toContain('--queue contains a control character (U+0015)');

    const folder = await mkdtemp(join(tmpdir(), 'qtool-lab-inject-'));
    try {
      await writeFile(
        join(folder, 'qtool.config.json'),
        JSON.stringify({ profiles: { default: { queue: injected } } }),
      );
      const labEnv = { ...env, XDG_CONFIG_HOME: join(folder, 'config') };
      // Trusting does not make a control character acceptable: the file is refused as broken.
      const trust = await runCli(['config', 'trust'], { env: labEnv, cwd: folder });
      expect(trust.exitCode).toBe(1);
      expect(trust.stderr).toContain('"queue" contains a control character (U+0015)');
      const session = uniqueName('inj');
      const byFile = await runCli(['lab', '--detach', '--session', session], { env: labEnv, cwd: folder });
      expect(byFile.stderr).toContain('not trusted yet');
      // Untrusted, it was ignored: the lab ran on the default queue, never typing the name anywhere.
      expect(byFile.exitCode, byFile.stderr).toBe(0);
      for (const pane of await panes(session)) expect(await capture(pane.id)).not.toContain('qtool-pwned');
      expect((await runCli(['lab', '--kill', '--session', session], { env })).exitCode).toBe(0);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("gives the panes the lab's settings only: no other profile's values leak in", async () => {
    // A tmux server of this test's own, so the panes inherit this test's config folder.
    const ownTmuxDir = await mkdtemp(join(tmpdir(), 'qtool-tmux-own-'));
    const config = await mkdtemp(join(tmpdir(), 'qtool-lab-profiles-'));
    const { hostname, port } = new URL(broker.amqpUrl);
    try {
      await mkdir(join(config, 'qtool'));
      await writeFile(
        join(config, 'qtool', 'config.json'),
        JSON.stringify({
          profiles: {
            // The default profile must not steer panes of a lab started with another profile.
            default: { heartbeat: 7, queue: 'from-the-default-profile' },
            lab: { host: `${hostname}:${port || 5672}` },
          },
        }),
      );
      const session = uniqueName('lab-prof');
      const queue = uniqueName('lab-prof-q');
      const labEnv = {
        AMQP_URL: undefined,
        TMUX: undefined,
        TMUX_TMPDIR: ownTmuxDir,
        HOME: ownTmuxDir,
        XDG_CONFIG_HOME: config,
      };
      const result = await runCli(
        ['lab', '--detach', '--session', session, '--workers', '1', '--profile', 'lab', '--queue', queue],
        { env: labEnv },
      );
      expect(result.exitCode, result.stderr).toBe(0);
      const ownTmux = (args: string[]) =>
        new Promise<string>((resolve, reject) =>
          execFile(
            tmuxPath as string,
            args,
            {
              env: childEnv({ TMUX_TMPDIR: ownTmuxDir, TMUX: undefined, HOME: ownTmuxDir }),
              encoding: 'utf8',
            },
            (error, stdout) => (error ? reject(error) : resolve(stdout)),
          ),
        );
      try {
        const [worker = ''] = (await ownTmux(['list-panes', '-t', `=${session}`, '-F', '#{pane_id}']))
          .trim()
          .split('\n');
        let text = '';
        await eventually(
          async () => {
            text = await ownTmux(['capture-pane', '-p', '-J', '-t', worker]);
            return /waiting for messages/.test(text);
          },
          'the worker to start',
          20_000,
        ).catch((error: Error) => {
          throw new Error(`${error.message}; the pane shows:\n${text}`);
        });
        expect(text).toContain(`waiting for messages on '${queue}'`);
        // The broker's proposal (60 s), not the default profile's 7 s.
        expect(text).not.toMatch(/heartbeat 7 s/);
        expect(text).toMatch(/heartbeat 60 s/);
      } finally {
        await ownTmux(['kill-server']).catch(() => {});
      }
    } finally {
      // The panes' shells may still be writing into HOME (their history) as the killed server ends them.
      await rm(ownTmuxDir, { recursive: true, force: true, maxRetries: 5 });
      await rm(config, { recursive: true, force: true, maxRetries: 5 });
    }
  });
});
