import { describe, expect, it } from 'vitest';
import { BACK_OFF, isPermanentConnectFailure, reconnectDelay } from '../../src/amqp/reconnect-policy.js';
import { QtoolError } from '../../src/errors.js';

describe('reconnectDelay', () => {
  it('doubles from 250 ms up to the 5 s cap', () => {
    const middle = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((attempt) => reconnectDelay(attempt, middle))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000, 5000,
    ]);
  });

  it('spreads each delay by ±20 %, so reconnecting workers do not knock in step', () => {
    expect(reconnectDelay(3, () => 0)).toBe(800);
    expect(reconnectDelay(3, () => 0.999999)).toBe(1200);
    expect(reconnectDelay(30, () => 0.999999)).toBeLessThanOrEqual(BACK_OFF.capMs * 1.2);
  });
});

const brokerClose = (code: number, name: string, text: string) =>
  new Error(
    `Handshake terminated by server: ${code} (${name}) with message "${name.replace('-', '_')} - ${text}"`,
  );

describe('isPermanentConnectFailure', () => {
  it('gives up on a wrong password, a missing vhost and a certificate that does not verify', () => {
    expect(isPermanentConnectFailure(brokerClose(403, 'ACCESS-REFUSED', 'Login was refused'))).toBe(true);
    expect(
      isPermanentConnectFailure(new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>')),
    ).toBe(true);
    expect(isPermanentConnectFailure(Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' }))).toBe(true);
  });

  it("looks through qtool's explanation to the cause", () => {
    const explained = new QtoolError('cannot log in', {
      cause: brokerClose(403, 'ACCESS-REFUSED', 'Login was refused'),
    });
    expect(isPermanentConnectFailure(explained)).toBe(true);
  });

  it('tries again when the broker is down, restarting, or its vhost is still starting', () => {
    expect(
      isPermanentConnectFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe(false);
    expect(
      isPermanentConnectFailure(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })),
    ).toBe(false);
    expect(isPermanentConnectFailure(new Error('connect ETIMEDOUT'))).toBe(false);
    expect(
      isPermanentConnectFailure(brokerClose(320, 'CONNECTION-FORCED', 'broker forced connection closure')),
    ).toBe(false);
    expect(isPermanentConnectFailure(brokerClose(530, 'NOT-ALLOWED', "vhost '/' is down"))).toBe(false);
  });
});
