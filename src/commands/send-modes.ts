import { UsageError } from '../errors.js';
import type { MessageSource } from './send-input.js';

/** What send was asked beyond publishing: a fixed id, JSON output, waiting for the reply. */
export interface SendModes {
  source: MessageSource;
  count: number;
  confirm: boolean;
  messageId: string | undefined;
  json: boolean;
  wait: boolean;
  timeoutGiven: boolean;
}

/**
 * Refuses, before connecting, the combinations send cannot honour truthfully:
 * - `--message-id` and `--wait` are about one message, so they need exactly one, given as an
 *   argument: with a file or standard input the count is known only once the first ones are sent;
 * - `--wait` and `--json` report what the broker confirmed, which `--no-confirm` never learns;
 * - `--timeout` only bounds `--wait`.
 */
export function checkSendModes(modes: SendModes): void {
  if (modes.timeoutGiven && !modes.wait) {
    throw new UsageError('--timeout bounds --wait: add --wait, or leave --timeout out');
  }
  const flag = modes.wait ? '--wait' : modes.messageId !== undefined ? '--message-id' : null;
  if (flag !== null) {
    const given =
      modes.source.kind === 'arguments'
        ? modes.source.messages.length * modes.count
        : modes.source.kind === 'file'
          ? '--file'
          : 'standard input';
    if (given !== 1) {
      const what =
        typeof given === 'number'
          ? `${given} messages (${modes.source.kind === 'arguments' ? modes.source.messages.length : 0} arguments, --count ${modes.count})`
          : `messages from ${given}`;
      throw new UsageError(
        `${flag} is for one message, given as an argument; here: ${what}`,
        flag === '--wait'
          ? 'Send one job per qtool send --wait, e.g. qtool send --wait "convert a.png".'
          : 'Without --message-id every message gets an id of its own (a UUID); qtool send --json prints them.',
      );
    }
  }
  if (!modes.confirm && (modes.wait || modes.json)) {
    throw new UsageError(
      `${modes.wait ? '--wait' : '--json'} cannot go with --no-confirm: it reports the messages the broker confirmed, and without confirms the broker says nothing of them`,
    );
  }
}
