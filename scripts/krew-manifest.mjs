// Writes the krew plugin manifest (oidc-login.yaml) for release archives:
//
//   npm run krew-manifest -- --version 0.1.0 --archive linux-amd64=release/kubectl-oidc_login-linux-amd64.tar.gz \
//     [--archive darwin-arm64=…] [--uri-template URL] [--homepage URL] [--output oidc-login.yaml]
//
// Each archive (.tar.gz or .zip, as krew accepts) must hold `kubectl-oidc_login` (`.exe` on Windows) and
// LICENSE at its top level, as `npm run build:release` makes them; a .tar.gz is checked. The URL of each
// archive comes from --uri-template, where {version} is the version without "v", {tag} with it, {os},
// {arch} the platform and {file} the archive's file name. Without it, a placeholder on github.com with
// OWNER in it is written (and a warning printed): replace OWNER, or pass the real pattern.
// Install from the manifest: kubectl krew install --manifest=oidc-login.yaml [--archive=<the archive>].
//
// Field names and rules follow krew's validation (sigs.k8s.io/krew internal/index/validation): apiVersion
// krew.googlecontainertools.github.com/v1alpha2, a "v"-prefixed semantic version, a one-line
// shortDescription, per platform a selector with only os/arch labels, uri, a lower-case 64-hex sha256, bin
// and files (from/to).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const PLACEHOLDER_URI = 'https://github.com/OWNER/kubectl-oidc-login/releases/download/{tag}/{file}';
const PLACEHOLDER_HOMEPAGE = 'https://github.com/OWNER/kubectl-oidc-login';
// krew's os and arch labels are Go's GOOS and GOARCH.
const OSES = ['linux', 'darwin', 'windows'];
const ARCHES = ['amd64', 'arm64', 'arm', '386', 'ppc64le', 's390x'];

function fail(message) {
  console.error(`krew-manifest: ${message}`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        version: { type: 'string' },
        archive: { type: 'string', multiple: true },
        'uri-template': { type: 'string' },
        homepage: { type: 'string' },
        output: { type: 'string', short: 'o' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    return fail(error.message);
  }
})();

const version = values.version ?? pkg.version;
const tag = version.startsWith('v') ? version : `v${version}`;
if (!/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(tag)) fail(`--version ${version} is not a semantic version (krew needs one, e.g. 1.2.3 or v1.2.3)`);
if (!values.archive?.length) fail('give at least one --archive <os>-<arch>=<path>, e.g. --archive linux-amd64=release/kubectl-oidc_login-linux-amd64.tar.gz');
const uriTemplate = values['uri-template'] ?? PLACEHOLDER_URI;
if (values['uri-template'] === undefined) console.error(`krew-manifest: warning: no --uri-template; the manifest points at ${PLACEHOLDER_URI}: replace OWNER before publishing it`);
if (!/^https:\/\//.test(uriTemplate)) fail(`--uri-template must be an https:// URL: ${uriTemplate}`);
const homepage = values.homepage ?? pkg.homepage ?? PLACEHOLDER_HOMEPAGE;

const platforms = values.archive.map((spec) => {
  const match = /^([a-z0-9]+)-([a-z0-9]+)=(.+)$/.exec(spec);
  if (!match) fail(`--archive ${spec}: expected <os>-<arch>=<path>, e.g. linux-amd64=dist.tar.gz`);
  const [, os, arch, path] = match;
  if (!OSES.includes(os)) fail(`--archive ${spec}: os must be one of ${OSES.join(', ')}`);
  if (!ARCHES.includes(arch)) fail(`--archive ${spec}: arch must be one of ${ARCHES.join(', ')}`);
  if (!/\.(tar\.gz|tgz|zip)$/.test(path)) fail(`--archive ${spec}: krew installs .tar.gz and .zip archives only`);
  let data;
  try {
    data = readFileSync(path);
  } catch (error) {
    fail(`--archive ${spec}: ${error.message}`);
  }
  const bin = os === 'windows' ? 'kubectl-oidc_login.exe' : 'kubectl-oidc_login';
  if (!path.endsWith('.zip')) {
    let entries;
    try {
      entries = execFileSync('tar', ['-tzf', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').map((entry) => entry.replace(/^\.\//, ''));
    } catch (error) {
      fail(`--archive ${spec}: cannot list ${path} with tar: ${error.stderr?.toString().trim() || error.message}`);
    }
    for (const needed of [bin, 'LICENSE']) if (!entries.includes(needed)) fail(`--archive ${spec}: ${path} has no ${needed} at its top level`);
  }
  const file = basename(path);
  const uri = uriTemplate.replaceAll('{version}', tag.slice(1)).replaceAll('{tag}', tag).replaceAll('{os}', os).replaceAll('{arch}', arch).replaceAll('{file}', file);
  return {
    selector: { matchLabels: { os, arch } },
    uri,
    sha256: createHash('sha256').update(data).digest('hex'),
    bin,
    files: [
      { from: bin, to: '.' },
      { from: 'LICENSE', to: '.' },
    ],
  };
});
const keys = platforms.map((platform) => `${platform.selector.matchLabels.os}-${platform.selector.matchLabels.arch}`);
const duplicate = keys.find((key, index) => keys.indexOf(key) !== index);
if (duplicate !== undefined) fail(`two archives for ${duplicate}`);

const manifest = {
  apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
  kind: 'Plugin',
  metadata: { name: 'oidc-login' },
  spec: {
    version: tag,
    homepage,
    shortDescription: 'Log in to an OpenID Connect provider (a drop-in for int128/kubelogin)',
    description: [
      'A kubectl credential plugin for OpenID Connect. kubectl runs it from the exec section of a',
      'kubeconfig user: it prints a token from its cache, refreshes it, or opens the browser to log in.',
      'A kubeconfig written for int128/kubelogin (kubectl oidc-login get-token …) works unchanged.',
      '',
      '`kubectl oidc-login setup --oidc-issuer-url=… --oidc-client-id=…` logs in once and prints the',
      'kubeconfig entry, the API-server settings and RBAC bindings for your provider.',
      '',
    ].join('\n'),
    caveats: [
      'Point a kubeconfig user at the plugin, for example:',
      '',
      '  kubectl oidc-login setup --oidc-issuer-url=ISSUER_URL --oidc-client-id=YOUR_CLIENT_ID',
      '',
      'and follow what it prints. The browser login needs a free port 8000 or 18000 on localhost.',
      '',
    ].join('\n'),
    platforms,
  },
};
const yaml = stringify(manifest, { lineWidth: 0 });
if (values.output === undefined) process.stdout.write(yaml);
else {
  writeFileSync(values.output, yaml);
  console.error(`wrote ${values.output} (${platforms.map((platform, index) => `${keys[index]} ${platform.sha256.slice(0, 12)}…`).join(', ')})`);
}
