import { Argument, type Command } from 'commander';
import { bashCompletion, completionModel, zshCompletion } from '../completion.js';
import type { CliContext } from '../context.js';

/** `qtool completion bash|zsh`: prints a completion script for the whole command tree. */
export function registerCompletionCommand(program: Command, { io, result }: CliContext): void {
  program
    .command('completion')
    .description('print a shell completion script: eval "$(qtool completion bash)" (or zsh)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .action((shell: 'bash' | 'zsh') => {
      // Read the tree when run, so commands registered after this one are included.
      const model = completionModel(program);
      io.stdout.write(shell === 'bash' ? bashCompletion(model) : zshCompletion(model));
      result.exitCode = 0;
    });
}
