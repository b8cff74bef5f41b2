import { describe, expect, it } from 'vitest';
import { PluginError } from '../../src/core/errors.js';
import { buildExecCredential, formatExecCredential, parseExecInfo } from '../../src/core/exec-credential.js';

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
