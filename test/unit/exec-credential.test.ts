import { describe, expect, it } from 'vitest';
import { PluginError } from '../../src/core/errors.js';
import { buildExecCredential, expirationTimestamp, formatExecCredential, parseExecInfo } from '../../src/core/exec-credential.js';

describe('parseExecInfo', () => {
  it('answers v1beta1 and non-interactive when KUBERNETES_EXEC_INFO is absent or empty', () => {
    for (const raw of [undefined, '', '  ']) {
      expect(parseExecInfo(raw)).toEqual({ apiVersion: 'client.authentication.k8s.io/v1beta1', interactive: false, cluster: undefined });
    }
  });

  it('echoes v1 and reads spec.interactive', () => {
    const info = parseExecInfo('{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}');
    expect(info.apiVersion).toBe('client.authentication.k8s.io/v1');
    expect(info.interactive).toBe(true);
  });

  it('keeps spec.cluster when kubectl provides it', () => {
    const info = parseExecInfo(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', spec: { interactive: false, cluster: { server: 'https://k', config: { a: 1 } } } }));
    expect(info.cluster).toEqual({ server: 'https://k', config: { a: 1 } });
  });

  it.each([
    ['not json', 'not JSON'],
    ['[]', 'not a JSON object'],
    ['{"apiVersion":"client.authentication.k8s.io/v1alpha1"}', 'unknown apiVersion "client.authentication.k8s.io/v1alpha1"'],
    ['{}', 'unknown apiVersion null'],
    ['{"apiVersion":"client.authentication.k8s.io/v1","spec":"x"}', 'spec is not an object'],
    ['{"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":"yes"}}', 'spec.interactive is not a boolean'],
  ])('rejects %s with ERR_EXEC_INFO', (raw, message) => {
    let caught: unknown;
    try {
      parseExecInfo(raw);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PluginError);
    expect((caught as PluginError).code).toBe('ERR_EXEC_INFO');
    expect((caught as PluginError).message).toContain(message);
  });
});

describe('buildExecCredential', () => {
  it('prints one line in the client-go shape with whole-second RFC 3339 expiry', () => {
    const info = parseExecInfo('{"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}');
    const line = formatExecCredential(buildExecCredential(info, 'a.b.c', new Date('2026-01-02T03:04:05.678Z')));
    expect(line).toBe(
      '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false},"status":{"expirationTimestamp":"2026-01-02T03:04:05Z","token":"a.b.c"}}\n',
    );
  });
});

describe('expirationTimestamp', () => {
  const viaDate = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

  it('is toISOString without the milliseconds, at the edges of days, months, leap years and the formatted range', () => {
    const edges = ['1970-01-01T00:00:00.000Z', '1999-12-31T23:59:59.999Z', '2000-02-29T12:00:00.000Z', '2000-03-01T00:00:00.000Z', '2024-02-29T23:59:59.999Z',
      '2100-02-28T23:59:59.999Z', '2100-03-01T00:00:00.000Z', '2400-02-29T00:00:00.000Z', '9999-12-31T23:59:59.999Z'].map(Date.parse);
    for (const ms of [...edges, 0, 1, 999, 1000, 253_402_300_799_999, 253_402_300_800_000, -1, -62_198_755_200_000, 8.64e15, -8.64e15, 1.5e12 + 0.75]) {
      expect(expirationTimestamp(ms), String(ms)).toBe(viaDate(ms));
    }
    expect(buildExecCredential({ apiVersion: 'client.authentication.k8s.io/v1', interactive: false, cluster: undefined }, 't', Date.parse('2026-01-02T03:04:05.678Z')).status.expirationTimestamp).toBe('2026-01-02T03:04:05Z');
  });

  it('agrees with Date on random instants from 1970 to 9999', () => {
    let seed = 7;
    for (let i = 0; i < 5000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const ms = Math.floor((seed / 2 ** 32) * 253_402_300_800_000);
      expect(expirationTimestamp(ms)).toBe(viaDate(ms));
    }
  });

  it('throws as Date does for an invalid instant', () => {
    expect(() => expirationTimestamp(NaN)).toThrow(RangeError);
    expect(() => expirationTimestamp(8.64e15 + 1)).toThrow(RangeError);
  });
});
