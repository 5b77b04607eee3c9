import { describe, expect, it } from 'vitest';
import { nackReturnCost } from '../../src/worker/delivery-limit.js';

const rabbitmq = (version: string) => ({ product: 'RabbitMQ', version });

describe('nackReturnCost (what a peek costs a quorum queue message)', () => {
  it.each([
    ['3.10.8', 'count'],
    ['3.13.7', 'count'],
    ['4.0.5', 'limit'],
    ['4.2.1', 'limit'],
    ['4.3.0', 'free'],
    ['5.0.0', 'free'],
  ])('RabbitMQ %s: %s', (version, cost) => {
    expect(nackReturnCost(rabbitmq(version))).toBe(cost);
  });

  it('assumes the default limit on a broker it cannot place', () => {
    expect(nackReturnCost({ product: null, version: null })).toBe('limit');
    expect(nackReturnCost({ product: 'RabbitMQ', version: 'unknown' })).toBe('limit');
  });
});
