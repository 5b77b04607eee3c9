import { type Command, InvalidArgumentError, Option } from 'commander';
import { ON_LOSE_CHOICES } from '../../worker/policy.js';
import type { CliContext } from '../context.js';
import { nonEmpty, nonNegativeSeconds, positiveInteger, prefetchCount } from '../parsers.js';

/** At most this many worker panes: more do not fit a 80x24 terminal. */
const MAX_WORKERS = 9;

/** lab: the lab's tmux layout, workers, watch and a shell, in one command. */
export function registerLabCommand(program: Command, { io, result, connection }: CliContext): void {
  program
    .command('lab')
    .description(
      'open a tmux session (a new window inside tmux) with n qprocessor panes on top, qtool watch and a shell for qtool send below',
    )
    .option('--workers <n>', `number of qprocessor panes (1-${MAX_WORKERS})`, workerCount, 2)
    .option('--session <name>', 'tmux session name (inside tmux: the window name)', nonEmpty, 'qtool-lab')
    .option('--detach', 'start it without attaching (for scripts)', false)
    .option('--kill', 'end the lab session (only that one) and exit', false)
    .option('--acknowledge', 'workers: turn auto-ack off and ack each message after its work', false)
    .option('--prefetch <n>', 'workers: at most n unacknowledged messages each', prefetchCount)
    .option('--lose-every <n>', 'workers: lose every n-th message', positiveInteger)
    .addOption(
      new Option('--on-lose <action>', 'workers: with --acknowledge, what losing a message does').choices(
        ON_LOSE_CHOICES,
      ),
    )
    .option('--delay-per-char <seconds>', 'workers: seconds of fake work per character', nonNegativeSeconds)
    .option('--block', 'workers: busy-wait instead of sleeping (starves heartbeats)', false)
    .action(async (options, command: Command) => {
      if (options.kill) {
        const { runLabKill } = await import('../../commands/lab.js');
        result.exitCode = await runLabKill(options.session, io);
        return;
      }
      const { runLab } = await import('../../commands/lab.js');
      result.exitCode = await runLab(
        await connection(command),
        {
          workers: options.workers,
          session: options.session,
          detach: options.detach,
          worker: {
            acknowledge: options.acknowledge,
            prefetch: options.prefetch,
            loseEvery: options.loseEvery,
            onLose: options.onLose,
            delayPerCharSeconds: options.delayPerChar,
            block: options.block,
          },
        },
        io,
      );
    });
}

function workerCount(text: string): number {
  const value = positiveInteger(text);
  if (value > MAX_WORKERS) throw new InvalidArgumentError(`expected at most ${MAX_WORKERS}.`);
  return value;
}
