// Part of `npm run build`: loads the new bundle as bin/cli-loader.js does, runs the commands people
// start most against a port where nothing listens (each fails at once with "connection refused",
// having compiled its way there: option parsing, settings, the command's module, amqplib), and
// writes V8's code cache of everything compiled so far to dist/cli/main.cjs.v8-cache.
'use strict';
const { mkdtempSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { Writable } = require('node:stream');
const { CODE_CACHE, loadCli } = require('../bin/cli-loader.js');

const COMMAND_LINES = [
  ['send', 'hello'],
  ['send', '--persistent', '--count', '2', 'hello'],
  ['receive', '--acknowledge', '--count', '1'],
  ['qprocessor', '--acknowledge', '--prefetch', '1'],
  ['qprocessor', '--exec', 'cat', '--acknowledge'],
  ['peek'],
  ['purge'],
  ['config', 'show'],
];

/** A port that was free a moment ago, so that connecting to it is refused. */
function closedPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function main() {
  // No ~/.config profile, no ./qtool.config.json and no QTOOL_* variables steer the training.
  const home = mkdtempSync(join(tmpdir(), 'qtool-train-'));
  const env = { XDG_CONFIG_HOME: home, HOME: home, NO_COLOR: '1' };
  const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });
  const io = {
    stdout: discard(),
    stderr: discard(),
    stdin: process.stdin,
    env,
    onInterrupt: () => () => {},
    exitNow: (code) => {
      throw new Error(`the training run tried to exit with ${code}`);
    },
  };
  try {
    process.chdir(home);
    const { cli, script } = loadCli();
    const port = String(await closedPort());
    for (const line of COMMAND_LINES) {
      await cli.main(['node', 'qtool', ...line, '--host', '127.0.0.1', '--port', port], io);
    }
    // Written whole, then renamed: a reader never sees half a cache.
    const partial = `${CODE_CACHE}.${process.pid}`;
    writeFileSync(partial, script.createCachedData());
    renameSync(partial, CODE_CACHE);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`code cache training failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
