import { describe, expect, it } from 'vitest';
import { stoppedAccount } from '../../src/commands/job-worker.js';

/** What a job worker leaving on an error says about the jobs it stops, for each ack mode. */
describe('stoppedAccount', () => {
  it('says nothing when no job was running', () => {
    expect(stoppedAccount('manual', 0, false)).toBeUndefined();
    expect(stoppedAccount('auto', 0, true)).toBeUndefined();
  });

  it('manual acks: stopped, not acked, delivered again', () => {
    expect(stoppedAccount('manual', 1, false)).toBe(
      'The job running was stopped (SIGTERM); its message was not acked, so the broker delivers it again.',
    );
    expect(stoppedAccount('manual', 3, false)).toBe(
      'The 3 jobs running were stopped (SIGTERM); their messages were not acked, so the broker delivers them again.',
    );
  });

  it('manual acks on a deleted queue: the messages went with it, never "delivered again"', () => {
    const said = stoppedAccount('manual', 2, true);
    expect(said).toBe(
      'The 2 jobs running were stopped (SIGTERM); their messages went with the deleted queue.',
    );
    expect(said).not.toMatch(/again/);
  });

  it('auto-ack: stopped and lost, since the broker removed them on delivery', () => {
    expect(stoppedAccount('auto', 1, false)).toBe(
      'The job running was stopped (SIGTERM) and its message is lost: with auto-ack the broker had already removed it.',
    );
    expect(stoppedAccount('auto', 2, true)).toMatch(
      /^The 2 jobs running were stopped \(SIGTERM\) and their messages are lost/,
    );
  });

  it('never says the jobs keep running', () => {
    for (const mode of ['manual', 'auto'] as const) {
      for (const deleted of [false, true])
        expect(stoppedAccount(mode, 2, deleted)).not.toMatch(/keep|run to the end/);
    }
  });
});
