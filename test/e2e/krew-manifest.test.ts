/**
 * scripts/krew-manifest.mjs (`npm run krew-manifest`): the krew plugin manifest for release archives, checked
 * against krew's own validation rules (sigs.k8s.io/krew internal/index/validation) after a YAML round trip.
 * The archives are small ones made here; test/e2e/sea.test.ts covers the real release archive.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/build-tools.js';
import { makeTempDir } from '../support/plugin.js';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'krew-manifest.mjs');

interface Platform {
  selector: { matchLabels: Record<string, string> };
  uri: string;
  sha256: string;
  bin: string;
  files: Array<{ from: string; to: string }>;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { version: string; homepage: string; shortDescription: string; description: string; caveats: string; platforms: Platform[] };
}

let temp: { path: string; remove(): void };
let linux: string;
let windows: string;
let noLicense: string;

async function archive(name: string, files: Record<string, string>): Promise<string> {
  const stage = join(temp.path, `${name}-stage`);
  mkdirSync(stage);
  for (const [file, content] of Object.entries(files)) writeFileSync(join(stage, file), content, { mode: 0o755 });
  const path = join(temp.path, name);
  await run('tar', ['-czf', path, '-C', stage, ...Object.keys(files)]);
  return path;
}

async function manifest(...args: string[]): Promise<{ manifest: Manifest; stderr: string }> {
  const output = join(temp.path, `manifest-${Math.random().toString(36).slice(2)}.yaml`);
  const { stderr } = await run(process.execPath, [SCRIPT, ...args, '--output', output]);
  return { manifest: parse(readFileSync(output, 'utf8')) as Manifest, stderr };
}

async function failure(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [SCRIPT, ...args]);
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
  throw new Error('krew-manifest succeeded');
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

beforeAll(async () => {
  temp = makeTempDir('oidc-login-krew-');
  linux = await archive('kubectl-oidc_login-linux-amd64.tar.gz', { 'kubectl-oidc_login': '#!/bin/sh\necho linux\n', LICENSE: 'MIT\n' });
  windows = await archive('kubectl-oidc_login-windows-amd64.tar.gz', { 'kubectl-oidc_login.exe': 'MZ', LICENSE: 'MIT\n' });
  noLicense = await archive('broken-linux-arm64.tar.gz', { 'kubectl-oidc_login': '#!/bin/sh\n' });
});
afterAll(() => temp.remove());

describe('npm run krew-manifest', () => {
  it('describes each archive with its platform, URL, sha256, bin and files, as krew validates them', async () => {
    const { manifest: written } = await manifest(
      '--version', '1.2.3',
      '--archive', `linux-amd64=${linux}`,
      '--archive', `windows-amd64=${windows}`,
      '--uri-template', 'https://github.com/acme/kubectl-oidc-login/releases/download/{tag}/{file}',
      '--homepage', 'https://github.com/acme/kubectl-oidc-login',
    );
    expect(written.apiVersion).toBe('krew.googlecontainertools.github.com/v1alpha2');
    expect(written.kind).toBe('Plugin');
    expect(written.metadata.name).toBe('oidc-login');
    expect(written.metadata.name).toMatch(/^[\w-]+$/);
    expect(written.spec.version).toBe('v1.2.3');
    expect(written.spec.homepage).toBe('https://github.com/acme/kubectl-oidc-login');
    expect(written.spec.shortDescription).not.toBe('');
    expect(written.spec.shortDescription).not.toMatch(/[\r\n]/);
    expect(written.spec.description).toContain('kubelogin');
    expect(written.spec.platforms).toEqual([
      {
        selector: { matchLabels: { os: 'linux', arch: 'amd64' } },
        uri: 'https://github.com/acme/kubectl-oidc-login/releases/download/v1.2.3/kubectl-oidc_login-linux-amd64.tar.gz',
        sha256: sha256(linux),
        bin: 'kubectl-oidc_login',
        files: [{ from: 'kubectl-oidc_login', to: '.' }, { from: 'LICENSE', to: '.' }],
      },
      {
        selector: { matchLabels: { os: 'windows', arch: 'amd64' } },
        uri: 'https://github.com/acme/kubectl-oidc-login/releases/download/v1.2.3/kubectl-oidc_login-windows-amd64.tar.gz',
        sha256: sha256(windows),
        bin: 'kubectl-oidc_login.exe',
        files: [{ from: 'kubectl-oidc_login.exe', to: '.' }, { from: 'LICENSE', to: '.' }],
      },
    ]);
    for (const platform of written.spec.platforms) expect(platform.sha256).toMatch(/^[a-f0-9]{64}$/);
  });

  it('takes the version from package.json and a "v" prefix as given; {version} is without it; without --uri-template a placeholder and a warning', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const defaults = await manifest('--archive', `linux-amd64=${linux}`);
    expect(defaults.manifest.spec.version).toBe(`v${version}`);
    expect(defaults.manifest.spec.platforms[0]?.uri).toBe(`https://github.com/OWNER/kubectl-oidc-login/releases/download/v${version}/kubectl-oidc_login-linux-amd64.tar.gz`);
    expect(defaults.stderr).toMatch(/warning: no --uri-template.*OWNER/);
    const prefixed = await manifest('--version', 'v2.0.0-rc.1', '--archive', `linux-amd64=${linux}`, '--uri-template', 'https://dl.example.com/{version}/{os}/{arch}/{file}');
    expect(prefixed.manifest.spec.version).toBe('v2.0.0-rc.1');
    expect(prefixed.manifest.spec.platforms[0]?.uri).toBe('https://dl.example.com/2.0.0-rc.1/linux/amd64/kubectl-oidc_login-linux-amd64.tar.gz');
  });

  it('prints the manifest on stdout without --output', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT, '--version', '1.0.0', '--archive', `linux-amd64=${linux}`, '--uri-template', 'https://example.com/{file}']);
    expect((parse(stdout) as Manifest).spec.platforms[0]?.sha256).toBe(sha256(linux));
  });

  it('refuses what krew would refuse or could not install, with exit code 2', async () => {
    const uri = ['--uri-template', 'https://example.com/{file}'];
    expect(await failure('--version', '1.0.0', ...uri)).toMatchObject({ code: 2, stderr: expect.stringMatching(/at least one --archive/) });
    expect(await failure('--version', 'latest', '--archive', `linux-amd64=${linux}`, ...uri)).toMatchObject({ code: 2, stderr: expect.stringMatching(/not a semantic version/) });
    expect(await failure('--version', '1.0.0', '--archive', `plan9-amd64=${linux}`, ...uri)).toMatchObject({ code: 2, stderr: expect.stringMatching(/os must be one of/) });
    expect(await failure('--version', '1.0.0', '--archive', `linux-arm64=${noLicense}`, ...uri)).toMatchObject({ code: 2, stderr: expect.stringMatching(/has no LICENSE/) });
    expect(await failure('--version', '1.0.0', '--archive', `windows-amd64=${linux}`, ...uri)).toMatchObject({ code: 2, stderr: expect.stringMatching(/has no kubectl-oidc_login\.exe/) });
    expect(await failure('--version', '1.0.0', '--archive', `linux-amd64=${linux}`, '--archive', `linux-amd64=${linux}`, ...uri)).toMatchObject({ code: 2, stderr: expect.stringMatching(/two archives for linux-amd64/) });
    expect(await failure('--version', '1.0.0', '--archive', `linux-amd64=${join(temp.path, 'missing.tar.gz')}`, ...uri)).toMatchObject({ code: 2, stderr: expect.stringMatching(/ENOENT/) });
    expect(await failure('--version', '1.0.0', '--archive', `linux-amd64=${linux}`, '--uri-template', 'http://example.com/{file}')).toMatchObject({ code: 2, stderr: expect.stringMatching(/https:/) });
  });
});
