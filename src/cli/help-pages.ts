import { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { CommandIo } from '../commands/io.js';
import { main } from './main.js';
import { buildProgram } from './program.js';

/**
 * Every help page, keyed by command path ('' for qtool itself, 'broker start', ...), exactly as
 * `qtool <path> --help` prints it to a pipe or an 80-column terminal. `npm run build` writes them to
 * dist/help.json, and bin/qtool.js prints them from there: help costs a file read instead of loading
 * commander and building every command (see BENCHMARKS.md).
 */
export async function renderHelpPages(): Promise<Record<string, string>> {
  const pages: Record<string, string> = {};
  for (const path of commandPaths(buildProgram(capturingIo().io, { exitCode: 0 }))) {
    const { io, output } = capturingIo();
    const exitCode = await main(['node', 'qtool', ...path, '--help'], io);
    if (exitCode !== 0) throw new Error(`qtool ${path.join(' ')} --help exited ${exitCode}`);
    pages[path.join(' ')] = output();
  }
  return pages;
}

/** The paths of qtool and of each of its commands, depth first; not commander's own `help`. */
function commandPaths(command: Command, path: string[] = []): string[][] {
  return [
    path,
    ...command.commands
      .filter((sub) => sub.name() !== 'help')
      .flatMap((sub) => commandPaths(sub, [...path, sub.name()])),
  ];
}

/** An io whose stdout is a pipe (no terminal, so 80 columns) that keeps what is written. */
function capturingIo(): { io: CommandIo; output: () => string } {
  let text = '';
  const sink = (keep: boolean) =>
    new Writable({
      write(chunk, _encoding, done) {
        if (keep) text += String(chunk);
        done();
      },
    });
  const io: CommandIo = {
    stdout: sink(true),
    stderr: sink(false),
    stdin: process.stdin,
    env: {},
    onInterrupt: () => () => {},
    exitNow: (code) => {
      throw new Error(`help rendering tried to exit with ${code}`);
    },
  };
  return { io, output: () => text };
}
