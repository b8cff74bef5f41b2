/**
 * The browser-tab flood guard's record (kubelogin #904, #1330): `<cacheDir>/<key>.login`, written when a
 * login opens a browser, rewritten with the outcome when that login fails, deleted when a token is obtained.
 * Background callers (k9s, Lens, IDEs) run get-token again and again; while a recent marker says a browser
 * login did not complete, get-token fails at once instead of opening yet another tab.
 *
 * Written atomically under the cache lock of the key (get-token holds it), read under that lock too.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readCacheFile, writeFileAtomically } from './atomic-file.js';

export type LoginOutcome = 'in-progress' | 'timed-out' | 'interrupted' | 'failed';

export interface LoginMarker {
  pid: number;
  /** When the browser was opened (RFC 3339). */
  startedAt: string;
  outcome: LoginOutcome;
  /** When the login failed (RFC 3339); absent while in progress, or when the process was killed. */
  endedAt?: string | undefined;
  /** The error, one line, for the message of the next invocation. */
  reason?: string | undefined;
  issuer: string;
  clientId: string;
}

export function loginMarkerPath(dir: string, key: string): string {
  return join(dir, `${key}.login`);
}

/** The marker of key, or undefined when there is none or it cannot be read or parsed (no guard then). */
export function readLoginMarker(dir: string, key: string): LoginMarker | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readCacheFile(loginMarkerPath(dir, key)));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const marker = value as Partial<LoginMarker>;
  if (typeof marker.pid !== 'number' || typeof marker.startedAt !== 'string' || Number.isNaN(Date.parse(marker.startedAt))) return undefined;
  const outcomes: readonly string[] = ['in-progress', 'timed-out', 'interrupted', 'failed'];
  return {
    pid: marker.pid,
    startedAt: marker.startedAt,
    outcome: typeof marker.outcome === 'string' && outcomes.includes(marker.outcome) ? marker.outcome : 'failed',
    endedAt: typeof marker.endedAt === 'string' && !Number.isNaN(Date.parse(marker.endedAt)) ? marker.endedAt : undefined,
    reason: typeof marker.reason === 'string' ? marker.reason : undefined,
    issuer: typeof marker.issuer === 'string' ? marker.issuer : '',
    clientId: typeof marker.clientId === 'string' ? marker.clientId : '',
  };
}

/** Throws the file system's error; the caller decides (a marker that cannot be written only weakens the guard). */
export function writeLoginMarker(dir: string, key: string, marker: LoginMarker): void {
  writeFileAtomically(loginMarkerPath(dir, key), `${JSON.stringify(marker)}\n`);
}

/** Deletes the marker of key; a missing one, or one that cannot be deleted, is ignored. */
export function removeLoginMarker(dir: string, key: string): void {
  try {
    rmSync(loginMarkerPath(dir, key), { force: true });
  } catch {
    // read-only directory: the marker expires on its own
  }
}

export type LoginMarkerVerdict =
  | { block: false }
  | {
      block: true;
      /** One line, without "error: ". */
      message: string;
      /** Seconds until a browser may be opened again; undefined while another process's login is running. */
      waitSec: number | undefined;
    };

export interface VerdictOptions {
  nowMs: number;
  /** --browser-retry-cooldown-sec; 0 turns the guard off. */
  cooldownSec: number;
  /** --authentication-timeout-sec: a login started longer ago than this is over, whatever its process does. */
  timeoutSec: number;
  /** Whether a process with this pid exists. */
  isRunning(pid: number): boolean;
  /** This process, whose own marker never blocks it. */
  selfPid: number;
}

/**
 * Whether the marker forbids opening a browser now. The cool-down runs from the end of the failed login
 * (a 180 s timeout followed by a 60 s cool-down would otherwise leave no cool-down at all); for a process
 * killed before it could record its outcome, from the start, which is all that is known.
 */
export function judgeLoginMarker(marker: LoginMarker, options: VerdictOptions): LoginMarkerVerdict {
  if (options.cooldownSec <= 0) return { block: false };
  const startedMs = Date.parse(marker.startedAt);
  const ago = formatDuration(options.nowMs - startedMs);
  if (marker.outcome === 'in-progress' && marker.pid !== options.selfPid && options.isRunning(marker.pid) && options.nowMs - startedMs < options.timeoutSec * 1000) {
    // Unusual under the lock (the lock was taken over, or the directory is shared between machines).
    return {
      block: true,
      message: `a browser login for this provider was started ${ago} ago by process ${marker.pid}, which is still waiting for it; not opening another browser tab`,
      waitSec: undefined,
    };
  }
  // A clock set back must not stretch the cool-down: the reference is never later than now.
  const referenceMs = Math.min(options.nowMs, marker.endedAt !== undefined ? Date.parse(marker.endedAt) : startedMs);
  const remainingMs = referenceMs + options.cooldownSec * 1000 - options.nowMs;
  if (remainingMs <= 0) return { block: false };
  const how = describeOutcome(marker);
  return {
    block: true,
    message: `a browser login for this provider was started ${ago} ago and did not complete (${how}); not opening another browser tab for ${formatDuration(remainingMs)}`,
    waitSec: Math.ceil(remainingMs / 1000),
  };
}

function describeOutcome(marker: LoginMarker): string {
  const reason = marker.reason !== undefined && marker.reason !== '' ? `: ${marker.reason}` : '';
  switch (marker.outcome) {
    case 'timed-out':
      return `timed out${reason}`;
    case 'interrupted':
      return `interrupted${reason}`;
    case 'in-progress':
      return 'its process ended without finishing it';
    case 'failed':
      return marker.reason !== undefined && marker.reason !== '' ? marker.reason : 'it failed';
  }
}

/** "12 s", "3 min 5 s", rounded up to the second (never "0 s" for a positive duration). */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}

export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
