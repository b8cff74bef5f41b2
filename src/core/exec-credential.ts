/**
 * The client-go exec credential protocol (kubernetes.md §1.2, §1.4): parsing KUBERNETES_EXEC_INFO and
 * building the ExecCredential printed on stdout.
 */
import { PluginError } from './errors.js';

export const EXEC_API_V1 = 'client.authentication.k8s.io/v1';
export const EXEC_API_V1BETA1 = 'client.authentication.k8s.io/v1beta1';
export type ExecApiVersion = typeof EXEC_API_V1 | typeof EXEC_API_V1BETA1;

export interface ExecInfo {
  /** The apiVersion to answer with: echoes the input, v1beta1 when the variable is absent (as kubelogin). */
  apiVersion: ExecApiVersion;
  /** spec.interactive: stdin may be read only when this is true. */
  interactive: boolean;
  /** spec.cluster, present only when the kubeconfig user sets provideClusterInfo. */
  cluster: Record<string, unknown> | undefined;
}

export interface ExecCredential {
  kind: 'ExecCredential';
  apiVersion: ExecApiVersion;
  spec: { interactive: boolean };
  status: { expirationTimestamp: string; token: string };
}

const INVALID_HINT = 'KUBERNETES_EXEC_INFO is set by kubectl; unset it when running the plugin by hand';

/** Parses KUBERNETES_EXEC_INFO. Undefined or empty means "not run by client-go" (e.g. @kubernetes/client-node). */
export function parseExecInfo(raw: string | undefined): ExecInfo {
  if (raw === undefined || raw.trim() === '') {
    return { apiVersion: EXEC_API_V1BETA1, interactive: false, cluster: undefined };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new PluginError('ERR_EXEC_INFO', 'invalid KUBERNETES_EXEC_INFO: not JSON', { hint: INVALID_HINT });
  }
  if (!isRecord(parsed)) {
    throw new PluginError('ERR_EXEC_INFO', 'invalid KUBERNETES_EXEC_INFO: not a JSON object', { hint: INVALID_HINT });
  }
  const apiVersion = parsed['apiVersion'];
  if (apiVersion !== EXEC_API_V1 && apiVersion !== EXEC_API_V1BETA1) {
    throw new PluginError(
      'ERR_EXEC_INFO',
      `invalid KUBERNETES_EXEC_INFO: unknown apiVersion ${JSON.stringify(apiVersion ?? null)}`,
      { hint: `set the kubeconfig exec apiVersion to ${EXEC_API_V1} or ${EXEC_API_V1BETA1}` },
    );
  }
  const spec = parsed['spec'];
  if (spec !== undefined && !isRecord(spec)) {
    throw new PluginError('ERR_EXEC_INFO', 'invalid KUBERNETES_EXEC_INFO: spec is not an object', { hint: INVALID_HINT });
  }
  const interactive = spec?.['interactive'];
  if (interactive !== undefined && typeof interactive !== 'boolean') {
    throw new PluginError('ERR_EXEC_INFO', 'invalid KUBERNETES_EXEC_INFO: spec.interactive is not a boolean', {
      hint: INVALID_HINT,
    });
  }
  const cluster = spec?.['cluster'];
  return {
    apiVersion,
    interactive: interactive === true,
    cluster: isRecord(cluster) ? cluster : undefined,
  };
}

export function buildExecCredential(info: ExecInfo, token: string, expiresAt: Date): ExecCredential {
  return {
    kind: 'ExecCredential',
    apiVersion: info.apiVersion,
    spec: { interactive: info.interactive },
    // Whole seconds in RFC 3339 UTC, the form client-go itself writes.
    status: { expirationTimestamp: expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'), token },
  };
}

/** One line of JSON and a newline: the only thing the plugin ever writes to stdout. */
export function formatExecCredential(credential: ExecCredential): string {
  return `${JSON.stringify(credential)}\n`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
