import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { groupsToRegister } from '../../src/cli/command-selection.js';
import { buildProgram, COMMAND_GROUP_NAMES } from '../../src/cli/program.js';
import type { CommandIo } from '../../src/commands/io.js';

const groups = [
  { names: ['send', 'receive'] },
  { names: ['status', 'watch'] },
  { names: ['config'] },
  { names: ['completion'] },
];
const chosen = (...args: string[]) => groupsToRegister(args, groups).map((group) => group.names[0]);

describe('groupsToRegister', () => {
  it('registers only the groups whose commands the line names', () => {
    expect(chosen('send', 'hello')).toEqual(['send']);
    expect(chosen('config', 'show', '--json')).toEqual(['config']);
    expect(chosen('--verbose', 'watch')).toEqual(['status']);
  });

  it('registers every group a word names, as an option value may be a command name', () => {
    // commander runs `status` here; `send` is the queue's name.
    expect(chosen('status', '--queue', 'send')).toEqual(['send', 'status']);
  });

  it('registers the whole tree for help, completion, a typo, or an option value first', () => {
    const all = ['send', 'status', 'config', 'completion'];
    expect(chosen()).toEqual(all);
    expect(chosen('send', '--help')).toEqual(all);
    expect(chosen('-h')).toEqual(all);
    expect(chosen('help', 'send')).toEqual(all);
    expect(chosen('completion', 'bash')).toEqual(all);
    expect(chosen('sned', 'hello')).toEqual(all);
    // `--host h send`: the first word is the host, so the command is not known from it.
    expect(chosen('--host', 'h', 'send', 'x')).toEqual(all);
  });
});

function quietIo(): CommandIo {
  return {
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    env: {},
    onInterrupt: () => () => {},
    exitNow: (code) => {
      throw new Error(`exit ${code}`);
    },
  };
}

describe("the program's command groups", () => {
  it('name every top-level command, in the order the help lists them', () => {
    const program = buildProgram(quietIo(), { exitCode: 0 });
    const commands = program.commands.map((command) => command.name()).filter((name) => name !== 'help');
    expect(COMMAND_GROUP_NAMES.flat()).toEqual(commands);
  });

  it('build just the group a command line runs, with its connection options', () => {
    const program = buildProgram(quietIo(), { exitCode: 0 }, ['peek', '--count', '2']);
    expect(program.commands.map((command) => command.name())).toEqual([
      'peek',
      'failed',
      'purge',
      'delete',
      'declare',
    ]);
    const peek = program.commands.find((command) => command.name() === 'peek');
    expect(peek?.options.map((option) => option.long)).toContain('--host');
  });
});
