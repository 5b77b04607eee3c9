import { describe, expect, it } from 'vitest';
import { passwordsGiven } from '../support/cli.js';

/** The end-to-end suite checks every run's output for the passwords it was given; it must find them all. */
describe('passwordsGiven', () => {
  it('finds a password in every place a run can be given one, and skips guest', () => {
    expect(
      passwordsGiven(
        ['send', '--password', 'FlagPw1', '--url', 'amqp://u:Url%40Pw@h/v', '--password=EqPw1'],
        {
          env: { QTOOL_PASSWORD: 'EnvPw1', AMQP_URL: 'amqp://guest:guest@h' },
        },
      ).sort(),
    ).toEqual(['EnvPw1', 'EqPw1', 'FlagPw1', 'Url@Pw'].sort());
    expect(passwordsGiven(['login', '--password-stdin'], { input: 'StdinPw\nrest' })).toEqual(['StdinPw']);
    expect(passwordsGiven(['send', 'x'], { env: { AMQP_URL: 'amqp://guest:guest@h:1' } })).toEqual([]);
  });
});
