/** The binary's contract for bad input, and the setup and clean commands. */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET } from '../support/identity-provider.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, parseCredential, runPlugin } from '../support/plugin.js';

const idp = useIdentityProvider();
const temp = useTempDir();

const provider = (): string[] => [`--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, '--listen-address=127.0.0.1:0', `--browser-command=${FAKE_BROWSER}`];
const cacheDir = (): string => join(temp.path, 'cache');

function expectUsageError(run: { code: number | null; stdout: string; stderr: string }, message: RegExp): void {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(message);
  expect(lines[1]).toMatch(/^hint: /);
}

describe('bad input', () => {
  it('an unknown flag: one error line and a hint on stderr, exit 1, nothing on stdout', async () => {
    expectUsageError(await runPlugin(['get-token', ...provider(), '--oidc-issuer=https://typo']), /^error: unknown option '--oidc-issuer=https:\/\/typo'/);
  });

  it('a bad value, a missing flag, an unknown command', async () => {
    expectUsageError(await runPlugin(['get-token', ...provider(), '--grant-type=magic']), /^error: option '--grant-type <value>' argument 'magic' is invalid/);
    expectUsageError(await runPlugin(['get-token', `--oidc-client-id=${idp.clientId}`]), /^error: --oidc-issuer-url is missing$/);
    expectUsageError(await runPlugin(['get-tokens']), /^error: unknown command 'get-tokens'/);
    expectUsageError(await runPlugin(['get-token', ...provider(), '--grant-type=client-credentials']), /^error: --grant-type=client-credentials needs --oidc-client-secret$/);
  });

  it('a malformed KUBERNETES_EXEC_INFO fails before any login and leaves the cache as it was', async () => {
    const good = await runPlugin(['get-token', ...provider(), `--token-cache-dir=${cacheDir()}`]);
    expect(good.code, good.stderr).toBe(0);
    const before = readdirSync(cacheDir()).map((name) => [name, readFileSync(join(cacheDir(), name), 'utf8')]);
    for (const info of ['{"apiVersion":', '{"apiVersion":"client.authentication.k8s.io/v1alpha1"}']) {
      const run = await runPlugin(['get-token', ...provider(), `--token-cache-dir=${cacheDir()}`, '--force-refresh'], { env: { KUBERNETES_EXEC_INFO: info } });
      expectUsageError(run, /^error: invalid KUBERNETES_EXEC_INFO/);
    }
    expect(readdirSync(cacheDir()).map((name) => [name, readFileSync(join(cacheDir(), name), 'utf8')])).toEqual(before);
    expect(idp.counts.authorizations).toBe(1);
  });

  it('without arguments explains that standalone mode is not supported', async () => {
    const run = await runPlugin([]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain("error: no command given (kubelogin's standalone mode");
  });

  it('--help and version exit 0', async () => {
    const help = await runPlugin(['get-token', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--oidc-issuer-url <value>');
    const version = await runPlugin(['version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toBe('');
    expect(version.stderr).toMatch(/^kubectl-oidc_login version \d+\.\d+\.\d+ \(node v\d+/);
  });
});

describe('setup', () => {
  it('logs in without the cache, shows the claims and a set-credentials command with the secret redacted', async () => {
    const run = await runPlugin([
      'setup',
      `--oidc-issuer-url=${idp.issuer}`,
      `--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`,
      `--oidc-client-secret=${CONFIDENTIAL_CLIENT_SECRET}`,
      '--oidc-extra-scope=email,groups',
      '--listen-address=127.0.0.1:0',
      `--browser-command=${FAKE_BROWSER}`,
    ], { env: { HOME: temp.path } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('"email": "alice@example.com"');
    expect(run.stderr).toContain('kubectl config set-credentials oidc \\\n  --exec-api-version=client.authentication.k8s.io/v1 \\\n  --exec-interactive-mode=Never');
    expect(run.stderr).toContain("--exec-arg='--oidc-extra-scope=email groups'");
    expect(run.stderr).toContain('--exec-arg=--oidc-client-secret=REDACTED');
    expect(run.stderr).not.toContain(CONFIDENTIAL_CLIENT_SECRET);
    expect(idp.counts.authorizations).toBe(1);
    // setup never touches the token cache.
    expect(() => readdirSync(join(temp.path, '.kube'))).toThrow();
  });

  it('prints its help and exits 0 without the provider flags, as kubelogin', async () => {
    const run = await runPlugin(['setup']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: kubectl-oidc_login setup');
  });
});

describe('clean', () => {
  it('deletes the cached tokens, after which get-token logs in again', async () => {
    const first = parseCredential(await runPlugin(['get-token', ...provider(), `--token-cache-dir=${cacheDir()}`]));
    const run = await runPlugin(['clean', `--token-cache-dir=${cacheDir()}`]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`^Deleted the token cache from ${cacheDir()} \\(\\d+ files\\)$`, 'm'));
    expect(() => readdirSync(cacheDir())).toThrow();
    const again = parseCredential(await runPlugin(['get-token', ...provider(), `--token-cache-dir=${cacheDir()}`]));
    expect(again.status.token).not.toBe(first.status.token);
    expect(idp.counts.authorizations).toBe(2);
  });

  it('removes only its own files from the directory', async () => {
    await runPlugin(['get-token', ...provider(), `--token-cache-dir=${cacheDir()}`]);
    writeFileSync(join(cacheDir(), 'notes.txt'), 'mine');
    const run = await runPlugin(['clean', `--token-cache-dir=${cacheDir()}`]);
    expect(run.code).toBe(0);
    expect(readdirSync(cacheDir())).toEqual(['notes.txt']);
    expect(run.stderr).toContain('Kept 1 file(s) that kubectl-oidc_login did not write: notes.txt');
  });

  it('uses $KUBECACHEDIR/oidc-login by default', async () => {
    const dir = join(temp.path, 'kube', 'oidc-login');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '0123456789abcdef0123456789abcdef'), '{}');
    const run = await runPlugin(['clean'], { env: { KUBECACHEDIR: join(temp.path, 'kube') } });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`Deleted the token cache from ${dir}`);
  });
});
