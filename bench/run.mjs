#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --broker 4.0|3.10 | --url amqp://...] [-- --json out.json]`: qtool
// against minimal amqplib programs (bench/baselines/) on the same broker, in alternating runs, with
// the median of the per-pair ratios; then where other tools people use stand (Debian's
// amqp-publish, pika). The broker: a throwaway RabbitMQ 4.0 node by default (bench/broker.mjs).
// Not part of qtool: nothing here is built, shipped or run by the test suite. See BENCHMARKS.md.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { CHROOT_NEEDS_ROOT, defaultSeries, SERIES, startThrowawayNode } from './broker.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const QTOOL = join(repo, 'bin', 'qtool.js');
const baseline = (name) => join(repo, 'bench', 'baselines', name);
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-pika is installed
const AMQP_PUBLISH = '/usr/bin/amqp-publish';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
/** Bad options: one line and exit 2, before anything starts. */
const usage = (message) => {
  console.error(`bench: ${message}`);
  process.exit(2);
};
const optionValue = (flag) => {
  const index = args.indexOf(flag);
  if (index === -1) return undefined;
  const value = args[index + 1];
  if (value === undefined || value.startsWith('--')) usage(`${flag} needs a value`);
  return value;
};
// Read now, so that a --json without a file name fails before the run, not after it.
const jsonPath = optionValue('--json');
const plan = quick
  ? { startupRuns: 6, oneShotRuns: 4, bulk: 10_000, bulkRuns: 2, memory: 50_000, pika: 2_000 }
  : { startupRuns: 20, oneShotRuns: 12, bulk: 100_000, bulkRuns: 15, memory: 1_000_000, pika: 20_000 };

/** Runs a command to its end: wall time in seconds, peak RSS in MB (VmHWM, polled), exit code. */
function measure(command, commandArgs, { stdin = 'ignore', stdout = 'ignore', env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const input = typeof stdin === 'string' && stdin !== 'ignore' ? openSync(stdin, 'r') : stdin;
    const output = stdout === 'null' ? openSync('/dev/null', 'w') : stdout;
    const child = spawn(command, commandArgs, {
      stdio: [input, output, 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    // The child has its own copies of the descriptors opened for it.
    for (const fd of [input, output]) if (typeof fd === 'number') closeSync(fd);
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    let peakKb = 0;
    const poll = () => {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (match) peakKb = Math.max(peakKb, Number(match[1]));
      } catch {
        // gone already
      }
    };
    const poller = setInterval(poll, 20);
    child.on('error', reject);
    child.on('exit', () => poll());
    child.on('close', (code) => {
      clearInterval(poller);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${command} ${commandArgs.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ seconds, peakMb: peakKb / 1024 });
    });
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/**
 * `runs` pairs of (qtool, baseline), the order alternating (AB, BA, ...) so that drift on a busy
 * machine falls on both. `prepare` runs before each single run, untimed. Ratio per pair of `metric`.
 */
async function paired(runs, { qtool, baseline, prepare = async () => {}, metric }) {
  const pairs = [];
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? ['qtool', 'baseline'] : ['baseline', 'qtool'];
    const pair = {};
    for (const side of order) {
      await prepare();
      pair[side] = await (side === 'qtool' ? qtool() : baseline());
    }
    pairs.push(pair);
  }
  return {
    qtool: median(pairs.map((pair) => metric(pair.qtool))),
    baseline: median(pairs.map((pair) => metric(pair.baseline))),
    ratio: median(pairs.map((pair) => metric(pair.qtool) / metric(pair.baseline))),
  };
}

async function withChannel(url, work) {
  const connection = await amqp.connect(url);
  try {
    return await work(await connection.createConfirmChannel());
  } finally {
    await connection.close();
  }
}

const purge = (url, queue) =>
  withChannel(url, async (channel) => {
    await channel.assertQueue(queue, { durable: true });
    await channel.purgeQueue(queue);
  });

/** Fills `queue` with `count` small persistent messages, confirmed, outside any timing. */
async function fill(url, queue, count) {
  await purge(url, queue);
  await measure(process.execPath, [baseline('bulk-publish.mjs'), url, queue, String(count), 'x']);
}

/**
 * The broker of --url, else a throwaway node of --broker's series, else AMQP_URL's broker, else a
 * throwaway node of the default series (4.0 when ready, see bench/broker.mjs). `note` says why a
 * run that was not asked for 3.10 measures on it.
 */
async function startBroker() {
  const asked = optionValue('--broker');
  const url = optionValue('--url');
  if (asked !== undefined && url !== undefined) {
    usage('--broker starts a node of its own and --url names a broker: give one of them');
  }
  if (asked !== undefined && !SERIES.includes(asked))
    usage(`--broker takes ${SERIES.join(' or ')}, not ${asked}`);
  const given = url ?? (asked === undefined ? process.env.AMQP_URL : undefined);
  if (given) return { url: given, series: null, note: null, stop: async () => {} };
  if (asked === '4.0' && process.getuid?.() !== 0) usage(`--broker 4.0: ${CHROOT_NEEDS_ROOT}`);

  const log = (line) => console.error(`bench: ${line}`);
  const start = (series) =>
    startThrowawayNode(series, log).catch((error) => {
      console.error(`bench: could not start a RabbitMQ ${series} node: ${error.message}`);
      return null;
    });
  let { series, why } = asked === undefined ? defaultSeries() : { series: asked, why: null };
  let node = await start(series);
  if (node === null && asked === undefined && series === '4.0') {
    // The root is there but would not run (its /proc could not be mounted, say): the host's will do.
    why = 'the RabbitMQ 4.0 node would not start (above)';
    series = '3.10';
    node = await start(series);
  }
  if (node === null) process.exit(1);
  if (why !== null) console.error(`bench: measuring on RabbitMQ 3.10: ${why}`);
  return { ...node, note: why };
}

async function brokerVersion(url) {
  const connection = await amqp.connect(url);
  const properties = connection.connection.serverProperties;
  await connection.close();
  return `${properties.product} ${properties.version}`;
}

const rows = [];
/** `target` is { atMost } or { atLeast } a ratio, or {} for a row shown for reference only. */
function report(measureName, result, unit, target) {
  const pass =
    target.atMost !== undefined
      ? result.ratio <= target.atMost
      : target.atLeast !== undefined
        ? result.ratio >= target.atLeast
        : true;
  const row = {
    measure: measureName,
    qtool: result.qtool,
    baseline: result.baseline,
    unit,
    ratio: result.ratio,
    target:
      target.atMost !== undefined
        ? `<= ${target.atMost}x`
        : target.atLeast !== undefined
          ? `>= ${target.atLeast}x`
          : 'reference',
    pass,
  };
  rows.push(row);
  console.error(
    `  ${measureName}: qtool ${format(result.qtool, unit)}, baseline ${format(result.baseline, unit)}, ratio ${result.ratio.toFixed(2)}x (${row.target})${row.target === 'reference' ? '' : pass ? ' ok' : ' MISSED'}`,
  );
}

function format(value, unit) {
  if (unit === 's') return `${value.toFixed(3)} s`;
  if (unit === 'msg/s') return `${Math.round(value).toLocaleString('en-US')} msg/s`;
  return `${value.toFixed(1)} ${unit}`;
}

async function main() {
  const broker = await startBroker();
  // Interrupted (Ctrl-C, a time-out's SIGTERM): the node it started must not outlive it.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      console.error(`bench: ${signal}: stopping the broker it started, then exiting`);
      broker.stop().finally(() => process.exit(130));
    });
  }
  const started = Date.now();
  const queue = (name) => `qtool-bench-${name}`;
  const results = { date: new Date().toISOString(), quick, machine: machine(), rows, others: [], memory: [] };
  try {
    results.broker = await brokerVersion(broker.url);
    results.series = broker.series; // the throwaway node's, null for a broker given by URL
    results.notes = brokerNotes(results.broker, broker.note);
    const env = { AMQP_URL: broker.url };
    console.error(`broker: ${results.broker}; ${results.machine}; ${quick ? 'quick' : 'full'} run`);
    for (const note of results.notes) console.error(`note: ${note}`);

    // Start-up: a one-shot command that never connects, against Node doing nothing.
    for (const flag of ['--version', '--help']) {
      report(
        `qtool ${flag} vs node -e 0`,
        await paired(plan.startupRuns, {
          qtool: () => measure(process.execPath, [QTOOL, flag]),
          baseline: () => measure(process.execPath, ['-e', '0']),
          metric: (run) => run.seconds,
        }),
        's',
        { atMost: 1.2 },
      );
    }

    report(
      'one-shot send hello',
      await paired(plan.oneShotRuns, {
        qtool: () =>
          measure(process.execPath, [QTOOL, 'send', '--queue', queue('oneshot'), 'hello'], { env }),
        baseline: () =>
          measure(process.execPath, [baseline('oneshot-publish.mjs'), broker.url, queue('oneshot'), 'hello']),
        prepare: () => purge(broker.url, queue('oneshot')),
        metric: (run) => run.seconds,
      }),
      's',
      { atMost: 1.0 },
    );
    // What of that is TCP_NODELAY alone: the same baseline with the socket option qtool sets.
    report(
      'one-shot send hello vs the baseline with TCP_NODELAY',
      await paired(plan.oneShotRuns, {
        qtool: () =>
          measure(process.execPath, [QTOOL, 'send', '--queue', queue('oneshot'), 'hello'], { env }),
        baseline: () =>
          measure(process.execPath, [
            baseline('oneshot-publish.mjs'),
            broker.url,
            queue('oneshot'),
            'hello',
            'nodelay',
          ]),
        prepare: () => purge(broker.url, queue('oneshot')),
        metric: (run) => run.seconds,
      }),
      's',
      {},
    );

    const rate = (count) => (run) => count / run.seconds;
    // The target row, against the baseline's own window of 512; then two reference rows that say
    // where the rest goes: the same baseline with qtool's window (2,048), and with the same work
    // qtool does per message (that window, a message id, mandatory).
    const bulkSend = (baselineExtras) =>
      paired(plan.bulkRuns, {
        qtool: () =>
          measure(
            process.execPath,
            [
              QTOOL,
              'send',
              '--queue',
              queue('bulk'),
              '--count',
              String(plan.bulk),
              '--persistent',
              '--quiet',
              'x',
            ],
            { env },
          ),
        baseline: () =>
          measure(process.execPath, [
            baseline('bulk-publish.mjs'),
            broker.url,
            queue('bulk'),
            String(plan.bulk),
            'x',
            ...baselineExtras,
          ]),
        prepare: () => purge(broker.url, queue('bulk')),
        metric: rate(plan.bulk),
      });
    const bulk = plan.bulk.toLocaleString('en-US');
    report(`send --count ${bulk} --persistent (confirms)`, await bulkSend([]), 'msg/s', { atLeast: 0.95 });
    report(
      `send --count ${bulk} --persistent vs the baseline with a window of 2,048`,
      await bulkSend(['2048']),
      'msg/s',
      {},
    );
    report(
      `send --count ${bulk} --persistent vs the baseline doing the same work (window 2,048, ids, mandatory)`,
      await bulkSend(['2048', 'ids']),
      'msg/s',
      {},
    );

    report(
      `receive --count ${plan.bulk.toLocaleString('en-US')} --acknowledge > /dev/null`,
      await paired(plan.bulkRuns, {
        qtool: () =>
          measure(
            process.execPath,
            [QTOOL, 'receive', '--queue', queue('consume'), '--count', String(plan.bulk), '--acknowledge'],
            { env, stdout: 'null' },
          ),
        baseline: () =>
          measure(
            process.execPath,
            [baseline('consume.mjs'), broker.url, queue('consume'), String(plan.bulk)],
            {
              stdout: 'null',
            },
          ),
        prepare: () => fill(broker.url, queue('consume'), plan.bulk),
        metric: rate(plan.bulk),
      }),
      'msg/s',
      { atLeast: 0.95 },
    );

    // Peak memory of the two long runs: RSS must stay flat, whatever the number of messages.
    const dir = mkdtempSync(join(os.tmpdir(), 'qtool-bench-'));
    try {
      const lines = join(dir, 'lines.txt');
      writeFileSync(lines, `${Array.from({ length: plan.memory }, (_, i) => `line-${i + 1}`).join('\n')}\n`);
      await purge(broker.url, queue('memory'));
      const sent = await measure(process.execPath, [QTOOL, 'send', '--queue', queue('memory'), '--quiet'], {
        env,
        stdin: lines,
      });
      const received = await measure(
        process.execPath,
        [QTOOL, 'receive', '--queue', queue('memory'), '--count', String(plan.memory)],
        { env, stdout: 'null' },
      );
      for (const [name, run] of [
        [`send of ${plan.memory.toLocaleString('en-US')} lines from stdin`, sent],
        [`receive --count ${plan.memory.toLocaleString('en-US')}`, received],
      ]) {
        const pass = run.peakMb < 150;
        results.memory.push({
          measure: name,
          peakMb: run.peakMb,
          seconds: run.seconds,
          target: '< 150 MB',
          pass,
        });
        console.error(
          `  peak RSS, ${name}: ${run.peakMb.toFixed(0)} MB (< 150 MB) ${pass ? 'ok' : 'MISSED'}`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    await others(broker.url, env, results.others, queue);
  } finally {
    await withChannel(broker.url, async (channel) => {
      for (const name of ['oneshot', 'bulk', 'consume', 'memory', 'others'])
        await channel.deleteQueue(queue(name));
    }).catch(() => {});
    await broker.stop();
  }
  results.seconds = (Date.now() - started) / 1000;
  console.log(markdown(results));
  if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  const missed = [...rows, ...results.memory].filter((row) => !row.pass);
  if (missed.length > 0) {
    // A quick run's two pairs of 10,000 messages vary by more than the 5 % a bulk target allows.
    const caveat = quick ? ' (a quick run has too few pairs to judge a target: run the full bench)' : '';
    console.error(`missed${caveat}: ${missed.map((row) => row.measure).join('; ')}`);
  }
}

/** Where qtool stands among the tools people use: medians of a few runs, not paired ratios. */
async function others(url, env, out, queue) {
  const runs = quick ? 2 : 5;
  const timed = async (name, count, run) => {
    const seconds = [];
    for (let i = 0; i < runs; i++) {
      await purge(url, queue('others'));
      seconds.push((await run()).seconds);
    }
    const result = {
      tool: name,
      seconds: median(seconds),
      rate: count === 1 ? null : count / median(seconds),
    };
    out.push(result);
    console.error(
      `  ${name}: ${result.rate === null ? `${result.seconds.toFixed(3)} s` : format(result.rate, 'msg/s')}`,
    );
  };
  const qtool = (extra) => () =>
    measure(process.execPath, [QTOOL, 'send', '--queue', queue('others'), ...extra], { env });

  await timed('qtool send hello (one-shot, confirmed)', 1, qtool(['hello']));
  if (existsSync(AMQP_PUBLISH)) {
    await timed('amqp-publish -b hello (one-shot, amqp-tools, no confirm)', 1, () =>
      measure(AMQP_PUBLISH, ['-u', url, '-r', queue('others'), '-b', 'hello']),
    );
  } else console.error(`  (no ${AMQP_PUBLISH}: apt-get install amqp-tools)`);

  const count = plan.pika;
  const text = count.toLocaleString('en-US');
  await timed(
    `qtool send --count ${text} --persistent (confirms)`,
    count,
    qtool(['--count', String(count), '--persistent', '--quiet', 'x']),
  );
  await timed(
    `qtool send --count ${text} --persistent --no-confirm`,
    count,
    qtool(['--count', String(count), '--persistent', '--no-confirm', '--quiet', 'x']),
  );
  const pika = await measure(PYTHON, ['-c', 'import pika']).then(
    () => true,
    () => false,
  );
  if (pika) {
    for (const confirm of [true, false]) {
      await timed(
        `pika BlockingConnection, ${text} persistent, ${confirm ? 'confirm_delivery' : 'no confirms'}`,
        count,
        () =>
          measure(PYTHON, [
            join(repo, 'bench', 'others', 'pika_publish.py'),
            url,
            queue('others'),
            String(count),
            ...(confirm ? ['--confirm'] : []),
          ]),
      );
    }
  } else console.error(`  (no pika for ${PYTHON}: apt-get install python3-pika)`);
}

/**
 * What a reader must know to read this broker's figures. RabbitMQ 3.10's classic queues send the
 * channel a message for every mandatory publish (rabbit_amqqueue_process's send_mandatory, kept
 * for mixed-version clusters), which costs its bulk send about a tenth; 4.0 has no such cost.
 */
function brokerNotes(version, whyThisBroker) {
  const notes = [];
  if (whyThisBroker !== null) notes.push(`Measured on RabbitMQ 3.10: ${whyThisBroker}.`);
  if (/^RabbitMQ 3\.10\./.test(version)) {
    notes.push(
      'On RabbitMQ 3.10 the bulk send pays for `mandatory`, which qtool sets so that an unroutable ' +
        'message comes back instead of vanishing: a classic queue there sends the channel a message for ' +
        'every mandatory publish. The baseline sets no `mandatory`; the same-work row compares like with ' +
        'like. See BENCHMARKS.md.',
    );
  }
  return notes;
}

function machine() {
  const cpus = os.cpus();
  return `${cpus.length} x ${cpus[0]?.model.trim() ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}, load ${os.loadavg()[0].toFixed(1)}`;
}

function markdown(results) {
  const lines = [
    `Run of ${results.date.slice(0, 10)} (${results.quick ? 'quick' : 'full'}, ${results.seconds.toFixed(0)} s): ${results.broker} on ${results.machine}.`,
    '',
    '| measure | qtool | baseline | median ratio | target | |',
    '|---|---|---|---|---|---|',
    ...results.rows.map(
      (row) =>
        `| ${row.measure} | ${format(row.qtool, row.unit)} | ${format(row.baseline, row.unit)} | ${row.ratio.toFixed(2)}x | ${row.target} | ${row.target === 'reference' ? '' : row.pass ? 'ok' : 'missed'} |`,
    ),
    ...(results.notes.length > 0 ? ['', ...results.notes.map((note) => `Note: ${note}`)] : []),
    '',
    '| peak memory | RSS | target | |',
    '|---|---|---|---|',
    ...results.memory.map(
      (row) =>
        `| ${row.measure} | ${row.peakMb.toFixed(0)} MB | ${row.target} | ${row.pass ? 'ok' : 'missed'} |`,
    ),
    '',
    '| other tools, same broker | time or rate |',
    '|---|---|',
    ...results.others.map(
      (row) =>
        `| ${row.tool} | ${row.rate === null ? `${row.seconds.toFixed(3)} s` : format(row.rate, 'msg/s')} |`,
    ),
  ];
  return lines.join('\n');
}

await main();
