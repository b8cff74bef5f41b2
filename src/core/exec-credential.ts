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

export function buildExecCredential(info: ExecInfo, token: string, expiresAt: Date | number): ExecCredential {
  return {
    kind: 'ExecCredential',
    apiVersion: info.apiVersion,
    spec: { interactive: info.interactive },
    status: { expirationTimestamp: expirationTimestamp(typeof expiresAt === 'number' ? expiresAt : expiresAt.getTime()), token },
  };
}

/**
 * Whole seconds in RFC 3339 UTC, the form client-go itself writes: `new Date(ms).toISOString()` without the
 * milliseconds. Years 1970–9999 are formatted here (days to a civil date, H. Hinnant's algorithm), because the
 * first Date costs about 0.2 ms on the cache-hit path; anything else (and NaN: RangeError) goes to Date.
 */
export function expirationTimestamp(ms: number): string {
  if (!(ms >= 0 && ms < 253_402_300_800_000)) return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const days = Math.floor(ms / 86_400_000);
  const seconds = Math.floor((ms - days * 86_400_000) / 1000);
  const era = Math.floor((days + 719_468) / 146_097);
  const dayOfEra = days + 719_468 - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return `${year}-${two(month)}-${two(day)}T${two(Math.floor(seconds / 3600))}:${two(Math.floor(seconds / 60) % 60)}:${two(seconds % 60)}Z`;
}

function two(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}

/** One line of JSON and a newline: the only thing the plugin ever writes to stdout. */
export function formatExecCredential(credential: ExecCredential): string {
  return `${JSON.stringify(credential)}\n`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
