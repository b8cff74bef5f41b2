/**
 * Merging the setup user (and a context) into kubeconfig files written by the real kubectl and by hand:
 * every other byte stays as it was, kubectl reads the result, and kubectl's lock, backups, modes and
 * symlinks are respected.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { describe, expect, it } from 'vitest';
import { parseDocument, isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import { PluginError } from '../../src/core/errors.js';
import { defaultKubeconfigPath, mergeKubeconfig, mergeKubeconfigText, type KubeconfigUserEntry } from '../../src/system/kubeconfig-file.js';
import { useTempDir } from '../support/fixtures.js';

const temp = useTempDir();

const OIDC_USER: KubeconfigUserEntry = {
  name: 'oidc',
  user: {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: 'kubectl-oidc_login',
      args: ['get-token', '--oidc-issuer-url=https://issuer.example.com/', '--oidc-client-id=kubectl', '--oidc-extra-scope=email groups'],
      interactiveMode: 'Never',
    },
  },
};

/** What the user looks like in kubectl's style (lists at their key's column). */
const OIDC_BLOCK = `users:
- name: oidc
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: kubectl-oidc_login
      args:
      - get-token
      - --oidc-issuer-url=https://issuer.example.com/
      - --oidc-client-id=kubectl
      - --oidc-extra-scope=email groups
      interactiveMode: Never
`;

// ---- helpers ----

function kubectl(file: string, ...args: string[]): string {
  return execFileSync('kubectl', [...args, `--kubeconfig=${file}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function view(file: string): { users: Array<{ name: string; user: Record<string, unknown> }>; contexts: Array<{ name: string; context: Record<string, unknown> }>; [key: string]: unknown } {
  return JSON.parse(kubectl(file, 'config', 'view', '--raw', '-o', 'json')) as ReturnType<typeof view>;
}

/** kubectl's view without the named user and context: what must not change. */
function viewWithout(file: string, user: string, context?: string): unknown {
  const config = view(file);
  return {
    ...config,
    users: (config.users ?? []).filter((entry) => entry.name !== user),
    contexts: (config.contexts ?? []).filter((entry) => entry.name !== context),
  };
}

/** A kubeconfig as kubectl writes it: two clusters, three users (token, exec with awkward args, basic), two contexts. */
function kubectlKubeconfig(file: string, extraUsers: string[] = []): string {
  mkdirSync(dirname(file), { recursive: true });
  const ca = join(temp.path, 'ca.pem');
  writeFileSync(ca, `-----BEGIN CERTIFICATE-----\n${'QUJD'.repeat(40)}\n-----END CERTIFICATE-----\n`);
  kubectl(file, 'config', 'set-cluster', 'prod', '--server=https://prod.example.com:6443', `--certificate-authority=${ca}`, '--embed-certs');
  kubectl(file, 'config', 'set-cluster', 'dev', '--server=https://127.0.0.1:6443', '--insecure-skip-tls-verify');
  kubectl(file, 'config', 'set-credentials', 'alice', '--token=alice-token');
  kubectl(
    file,
    'config',
    'set-credentials',
    'robot',
    '--exec-command=kubectl',
    '--exec-api-version=client.authentication.k8s.io/v1beta1',
    // --exec-arg is CSV: quote an argument to keep its comma; "" is a literal quote.
    '--exec-arg=oidc-login,get-token,"--oidc-extra-scope=email,groups","--label=""quoted"" value"',
    '--exec-env=TOKEN_DIR=/tmp/x y',
    '--exec-interactive-mode=IfAvailable',
  );
  kubectl(file, 'config', 'set-credentials', 'basic', '--username=admin', '--password=p@ss: word');
  for (const name of extraUsers) kubectl(file, 'config', 'set-credentials', name, `--token=${name}-token`);
  kubectl(file, 'config', 'set-context', 'prod', '--cluster=prod', '--user=alice', '--namespace=web');
  kubectl(file, 'config', 'set-context', 'dev', '--cluster=dev', '--user=robot');
  kubectl(file, 'config', 'use-context', 'prod');
  return readFileSync(file, 'utf8');
}

type Region = [number, number];

/** Start of the line holding pos. */
function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

/** Start of the line after the one holding end-1 (end itself when it already is one). */
function nextLine(text: string, end: number): number {
  if (text[end - 1] === '\n') return end;
  const newline = text.indexOf('\n', end);
  return newline === -1 ? text.length : newline + 1;
}

function rangeOf(node: unknown): [number, number, number] {
  const range = (node as Node).range;
  if (!range) throw new Error('node without range');
  return range;
}

function topPair(text: string, key: string): Pair | undefined {
  const top = parseDocument(text).contents as YAMLMap;
  return (top.items as Pair[]).find((pair) => isScalar(pair.key) && pair.key.value === key);
}

/** The whole lines of the item named `name` of the top-level list `key` (with its `- `). */
function itemRegion(text: string, key: string, name: string): Region {
  const list = topPair(text, key)?.value;
  if (!isSeq(list)) throw new Error(`${key} is not a list`);
  const item = list.items.find((entry) => isMap(entry) && entry.get('name') === name);
  if (item === undefined) throw new Error(`no ${key} item ${name}`);
  const [start, end] = rangeOf(item);
  return [lineStart(text, start), nextLine(text, end)];
}

function cut(text: string, ...regions: Region[]): string {
  return [...regions].sort((a, b) => b[0] - a[0]).reduce((rest, [start, end]) => rest.slice(0, start) + rest.slice(end), text);
}

/** The source text of every top-level pair and of every item of users/contexts/clusters, by name. */
function entrySlices(text: string): Map<string, string> {
  const slices = new Map<string, string>();
  for (const pair of (parseDocument(text).contents as YAMLMap).items as Pair[]) {
    const key = String((pair.key as { value: unknown }).value);
    const [start, end] = [rangeOf(pair.key)[0], rangeOf(pair.value ?? pair.key)[1]];
    if (['users', 'contexts', 'clusters'].includes(key) && isSeq(pair.value)) {
      for (const item of pair.value.items) if (isMap(item)) slices.set(`${key}/${String(item.get('name'))}`, text.slice(...rangeOf(item).slice(0, 2)));
    } else {
      slices.set(key, text.slice(start, end));
    }
  }
  return slices;
}

function expectOtherEntriesIdentical(before: string, after: string, changed: string[]): void {
  const old = entrySlices(before);
  const now = entrySlices(after);
  for (const [name, slice] of old) if (!changed.includes(name)) expect(now.get(name), name).toBe(slice);
  expect([...now.keys()].filter((name) => !old.has(name)).sort()).toEqual(changed.filter((name) => !old.has(name)).sort());
}

async function rejection(promise: Promise<unknown>): Promise<PluginError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PluginError);
  return error as PluginError;
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

// ---- tests ----

describe('mergeKubeconfig into a kubeconfig written by kubectl', () => {
  it('adds the user and a new context; every other byte stays, and kubectl reads the result', async () => {
    const file = join(temp.path, 'config');
    const original = kubectlKubeconfig(file);
    chmodSync(file, 0o640);
    const before = viewWithout(file, 'oidc', 'oidc@prod');

    const result = await mergeKubeconfig({ path: file, user: OIDC_USER, context: { name: 'oidc@prod' } });

    expect(result).toEqual({ path: realpathSync(file), backupPath: `${realpathSync(file)}.bak`, created: false, userAction: 'added', contextAction: 'added' });
    const text = readFileSync(file, 'utf8');
    // Removing the two new items gives back the original, byte for byte.
    expect(cut(text, itemRegion(text, 'users', 'oidc'), itemRegion(text, 'contexts', 'oidc@prod'))).toBe(original);
    expectOtherEntriesIdentical(original, text, ['users/oidc', 'contexts/oidc@prod']);
    // kubectl-style items, appended after the last user and the last context.
    expect(text).toContain(`${OIDC_BLOCK.slice('users:\n'.length)}`);
    expect(text).toContain('- context:\n    cluster: prod\n    user: oidc\n  name: oidc@prod\ncurrent-context: prod\n');

    expect(viewWithout(file, 'oidc', 'oidc@prod')).toEqual(before);
    const oidc = view(file).users.find((entry) => entry.name === 'oidc');
    expect(oidc?.user['exec']).toMatchObject(OIDC_USER.user['exec'] as object);
    expect(kubectl(file, 'config', 'view', '--raw', '-o', 'jsonpath={.users[?(@.name=="oidc")].user.exec.command}')).toBe('kubectl-oidc_login');
    expect(kubectl(file, 'config', 'get-contexts', '--no-headers', 'oidc@prod').split(/\s+/).filter(Boolean)).toEqual(['oidc@prod', 'prod', 'oidc']);
    expect(kubectl(file, 'config', 'current-context').trim()).toBe('prod');

    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(original);
    expect(mode(`${file}.bak`)).toBe(0o600);
    expect(mode(file)).toBe(0o640);
    expect(readdirSync(temp.path).sort()).toEqual(['ca.pem', 'config', 'config.bak']);
  });

  it('replaces a user of the same name in place; the same merge again changes nothing and makes no backup', async () => {
    const file = join(temp.path, 'config');
    const original = kubectlKubeconfig(file, ['oidc', 'zed']);
    const names = view(file).users.map((entry) => entry.name);
    expect(names.indexOf('oidc')).toBeGreaterThan(0);
    expect(names.indexOf('oidc')).toBeLessThan(names.length - 1);

    const first = await mergeKubeconfig({ path: file, user: OIDC_USER });
    expect(first.userAction).toBe('replaced');
    const text = readFileSync(file, 'utf8');
    expect(cut(text, itemRegion(text, 'users', 'oidc'))).toBe(cut(original, itemRegion(original, 'users', 'oidc')));
    expectOtherEntriesIdentical(original, text, ['users/oidc']);
    expect(view(file).users.map((entry) => entry.name)).toEqual(names);
    expect(kubectl(file, 'config', 'view', '--raw', '-o', 'jsonpath={.users[?(@.name=="oidc")].user}')).not.toContain('oidc-token');

    const mtime = statSync(file).mtimeMs;
    const again = await mergeKubeconfig({ path: file, user: OIDC_USER });
    expect(again).toEqual({ path: realpathSync(file), backupPath: undefined, created: false, userAction: 'unchanged', contextAction: undefined });
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(statSync(file).mtimeMs).toBe(mtime);
    expect(readdirSync(temp.path).sort()).toEqual(['ca.pem', 'config', 'config.bak']);

    // A different user: the next free backup name; the first backup keeps the very first bytes.
    const other = { name: 'oidc', user: { exec: { ...(OIDC_USER.user['exec'] as object), args: ['get-token', '--oidc-issuer-url=https://other.example.com/'] } } };
    const third = await mergeKubeconfig({ path: file, user: other });
    expect(third.userAction).toBe('replaced');
    expect(third.backupPath).toBe(`${realpathSync(file)}.bak.1`);
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(original);
    expect(readFileSync(`${file}.bak.1`, 'utf8')).toBe(text);
  });

  it('points an existing context at the user by changing only its user', async () => {
    const file = join(temp.path, 'config');
    kubectlKubeconfig(file);
    await mergeKubeconfig({ path: file, user: OIDC_USER });
    const withUser = readFileSync(file, 'utf8');

    const result = await mergeKubeconfig({ path: file, user: OIDC_USER, context: { name: 'dev' } });

    expect([result.userAction, result.contextAction]).toEqual(['unchanged', 'updated']);
    const text = readFileSync(file, 'utf8');
    // One scalar changed: `user: robot` became `user: oidc` inside the dev context.
    const region = itemRegion(withUser, 'contexts', 'dev');
    expect(text).toBe(withUser.slice(0, region[0]) + withUser.slice(...region).replace('user: robot\n', 'user: oidc\n') + withUser.slice(region[1]));
    expect(kubectl(file, 'config', 'get-contexts', '--no-headers', 'dev').split(/\s+/).filter(Boolean)).toEqual(['dev', 'dev', 'oidc']);
    expect(kubectl(file, 'config', 'current-context').trim()).toBe('prod');

    const again = await mergeKubeconfig({ path: file, user: OIDC_USER, context: { name: 'dev' } });
    expect([again.userAction, again.contextAction, again.backupPath]).toEqual(['unchanged', 'unchanged', undefined]);

    // An explicit cluster is set too, like `kubectl config set-context dev --cluster=prod --user=oidc`.
    const moved = await mergeKubeconfig({ path: file, user: OIDC_USER, context: { name: 'dev', cluster: 'prod' } });
    expect(moved.contextAction).toBe('updated');
    expect(kubectl(file, 'config', 'get-contexts', '--no-headers', 'dev').split(/\s+/).filter(Boolean)).toEqual(['dev', 'prod', 'oidc']);
    expectOtherEntriesIdentical(text, readFileSync(file, 'utf8'), ['contexts/dev']);
  });

  it('quotes what kubectl (YAML 1.1) would read as booleans or numbers', async () => {
    const file = join(temp.path, 'config');
    kubectlKubeconfig(file);
    const args = ['get-token', 'on', 'yes', 'No', '0755', '1_000', '12:30', 'a: b', '#x', '--oidc-extra-scope=email,groups', ''];
    const user = { name: 'y', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'kubectl-oidc_login', args, interactiveMode: 'Never' } } };
    await mergeKubeconfig({ path: file, user, context: { name: 'n', cluster: 'dev' } });
    const config = view(file);
    expect(config.users.find((entry) => entry.name === 'y')?.user['exec']).toMatchObject({ args });
    expect(config.contexts.find((entry) => entry.name === 'n')?.context).toEqual({ cluster: 'dev', user: 'y' });
  });

  it('waits for kubectl`s lock file and gives up with a clear error; kubectl cannot write while we hold it', async () => {
    const file = join(temp.path, 'config');
    const original = kubectlKubeconfig(file);
    // kubectl's lock: a plain file created with O_EXCL.
    writeFileSync(`${file}.lock`, '');

    const started = performance.now();
    const error = await rejection(mergeKubeconfig({ path: file, user: OIDC_USER }, { lockWaitMs: 1000 }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    expect(error.code).toBe('ERR_LOCK');
    expect(error.message).toContain(`${file}.lock`);
    expect(error.hint).toBe(`if no kubectl is running, remove ${file}.lock`);
    expect(readFileSync(file, 'utf8')).toBe(original);
    expect(lstatSync(`${file}.lock`).isFile()).toBe(true);
    expect(readdirSync(temp.path).sort()).toEqual(['ca.pem', 'config', 'config.lock']);

    // Released while we wait: the merge goes ahead.
    setTimeout(() => unlinkSync(`${file}.lock`), 300);
    const waited = performance.now();
    await expect(mergeKubeconfig({ path: file, user: OIDC_USER }, { lockWaitMs: 5000 })).resolves.toMatchObject({ userAction: 'added' });
    expect(performance.now() - waited).toBeGreaterThanOrEqual(250);
    expect(existsSync(`${file}.lock`)).toBe(false);

    // The other way round: our lock (a directory of the same name) makes kubectl refuse to write.
    const release = await lockfile.lock(file, { realpath: false, lockfilePath: `${file}.lock` });
    try {
      const run = spawnSync('kubectl', ['config', 'set-credentials', 'x', '--token=y', `--kubeconfig=${file}`], { encoding: 'utf8' });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain('config.lock');
    } finally {
      await release();
    }
  });
});

describe('mergeKubeconfig into hand-written files', () => {
  const HAND_WRITTEN = [
    '# kubeconfig for the team: keep the order',
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '  - name: "prod"   # production',
    '    cluster:',
    "      server: 'https://prod.example.com:6443'",
    '      insecure-skip-tls-verify: true',
    'contexts:',
    '  - name: prod',
    '    context: {cluster: prod, user: "alice", namespace: web}   # flow style',
    'current-context: "prod"',
    'users:',
    '  # people',
    '  - name: alice',
    '    user:',
    '      token: "a-token"   # rotated monthly',
    '  # robots go below',
    'preferences: {}',
    'extensions: []   # none',
  ].join('\n'); // no final newline

  it('keeps comments, quoting and indentation, and indents the new items like their neighbours', async () => {
    const file = join(temp.path, 'config');
    writeFileSync(file, HAND_WRITTEN);

    const result = await mergeKubeconfig({ path: file, user: OIDC_USER, context: { name: 'oidc@prod' } });

    expect([result.userAction, result.contextAction]).toEqual(['added', 'added']);
    const text = readFileSync(file, 'utf8');
    expect(cut(text, itemRegion(text, 'users', 'oidc'), itemRegion(text, 'contexts', 'oidc@prod'))).toBe(HAND_WRITTEN);
    expect(text).toContain(
      [
        '  - name: alice',
        '    user:',
        '      token: "a-token"   # rotated monthly',
        '  - name: oidc',
        '    user:',
        '      exec:',
        '        apiVersion: client.authentication.k8s.io/v1',
        '        command: kubectl-oidc_login',
        '        args:',
        '          - get-token',
      ].join('\n'),
    );
    expect(text).toContain("  - context:\n      cluster: prod\n      user: oidc\n    name: oidc@prod\ncurrent-context: \"prod\"\n");
    expect(text.endsWith('extensions: []   # none')).toBe(true);
    expect(kubectl(file, 'config', 'get-contexts', '--no-headers', 'oidc@prod').split(/\s+/).filter(Boolean)).toEqual(['oidc@prod', 'prod', 'oidc']);
    expect(kubectl(file, 'config', 'view', '--raw', '-o', 'jsonpath={.users[?(@.name=="oidc")].user.exec.args}')).toBe(
      JSON.stringify((OIDC_USER.user['exec'] as { args: string[] }).args),
    );
  });

  it('changes only the user inside a flow-style context', async () => {
    const file = join(temp.path, 'config');
    writeFileSync(file, HAND_WRITTEN);
    await mergeKubeconfig({ path: file, user: OIDC_USER, context: { name: 'prod' } });
    const text = readFileSync(file, 'utf8');
    const withoutUser = cut(text, itemRegion(text, 'users', 'oidc'));
    expect(withoutUser).toBe(HAND_WRITTEN.replace('user: "alice"', 'user: oidc'));
  });

  it.each([
    ['users: []', 'apiVersion: v1\nclusters: []\ncontexts: []\ncurrent-context: ""\nkind: Config\npreferences: {}\nusers: []\n', (text: string) => text.replace('users: []\n', OIDC_BLOCK)],
    ['users: null with a comment', 'apiVersion: v1\nusers: null # none yet\nkind: Config\n', (text: string) => text.replace('users: null # none yet\n', OIDC_BLOCK.replace('users:', 'users: # none yet'))],
    ['users: (empty)', 'apiVersion: v1\nusers:\nkind: Config\n', (text: string) => text.replace('users:\n', OIDC_BLOCK)],
    ['no users, no final newline', 'apiVersion: v1\nkind: Config', (text: string) => `${text}\n${OIDC_BLOCK}`],
    ['no users, indented top level lists', 'clusters:\n  - name: a\n    cluster: {server: "https://a"}\nkind: Config\n', (text: string) => text + OIDC_BLOCK],
    ['a byte order mark', '\uFEFFapiVersion: v1\nkind: Config\n', (text: string) => text + OIDC_BLOCK],
    ['an empty file', '', () => `apiVersion: v1\nclusters: []\ncontexts: []\ncurrent-context: ""\nkind: Config\npreferences: {}\n${OIDC_BLOCK}`],
    ['comments only', '# nothing yet\n', (text: string) => `${text}apiVersion: v1\nclusters: []\ncontexts: []\ncurrent-context: ""\nkind: Config\npreferences: {}\n${OIDC_BLOCK}`],
  ])('%s: the users list is written in kubectl`s style', async (_name, original, expected) => {
    const file = join(temp.path, 'config');
    writeFileSync(file, original);
    const result = await mergeKubeconfig({ path: file, user: OIDC_USER });
    expect(result.userAction).toBe('added');
    expect(readFileSync(file, 'utf8')).toBe(expected(original));
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(original);
    expect(kubectl(file, 'config', 'view', '--raw', '-o', 'jsonpath={.users[0].user.exec.command}')).toBe('kubectl-oidc_login');
  });

  it('keeps CRLF line ends', async () => {
    const file = join(temp.path, 'config');
    const original = 'apiVersion: v1\r\nusers:\r\n- name: alice\r\n  user:\r\n    token: t\r\nkind: Config\r\n';
    writeFileSync(file, original);
    await mergeKubeconfig({ path: file, user: OIDC_USER, context: { name: 'c', cluster: 'k' } });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/[^\r]\n/);
    expect(text.startsWith('apiVersion: v1\r\nusers:\r\n- name: alice\r\n  user:\r\n    token: t\r\n- name: oidc\r\n')).toBe(true);
    expect(kubectl(file, 'config', 'get-contexts', '--no-headers', 'c').split(/\s+/).filter(Boolean)).toEqual(['c', 'k', 'oidc']);
  });

  it('keeps a JSON kubeconfig JSON', async () => {
    const file = join(temp.path, 'config');
    kubectlKubeconfig(file);
    const json = kubectl(file, 'config', 'view', '--raw', '-o', 'json');
    writeFileSync(file, json);
    await mergeKubeconfig({ path: file, user: OIDC_USER, context: { name: 'dev' } });
    const merged = JSON.parse(readFileSync(file, 'utf8')) as { users: Array<{ name: string }>; contexts: Array<{ name: string; context: { user: string } }> };
    expect(merged.users.at(-1)).toEqual(OIDC_USER);
    expect(merged.contexts.find((entry) => entry.name === 'dev')?.context.user).toBe('oidc');
    expect(kubectl(file, 'config', 'get-contexts', '--no-headers', 'dev').split(/\s+/).filter(Boolean)).toEqual(['dev', 'dev', 'oidc']);
  });
});

describe('mergeKubeconfig: files, modes, symlinks', () => {
  it('creates a missing file 0600 in a new 0700 directory, in kubectl`s layout', async () => {
    const file = join(temp.path, 'home', '.kube', 'config');
    const result = await mergeKubeconfig({ path: file, user: OIDC_USER, context: { name: 'oidc', cluster: 'prod' } });
    expect(result).toEqual({ path: file, backupPath: undefined, created: true, userAction: 'added', contextAction: 'added' });
    expect(readFileSync(file, 'utf8')).toBe(
      `apiVersion: v1\nclusters: []\ncontexts:\n- context:\n    cluster: prod\n    user: oidc\n  name: oidc\ncurrent-context: ""\nkind: Config\npreferences: {}\n${OIDC_BLOCK}`,
    );
    expect(mode(file)).toBe(0o600);
    expect(mode(dirname(file))).toBe(0o700);
    expect(mode(join(temp.path, 'home'))).toBe(0o700);
    expect(readdirSync(dirname(file))).toEqual(['config']);
    expect(kubectl(file, 'config', 'get-contexts', '--no-headers').split(/\s+/).filter(Boolean)).toEqual(['oidc', 'prod', 'oidc']);
  });

  it('refuses a new context without a cluster to take, before creating anything', async () => {
    const file = join(temp.path, 'home', '.kube', 'config');
    const error = await rejection(mergeKubeconfig({ path: file, user: OIDC_USER, context: { name: 'oidc' } }));
    expect(error.code).toBe('ERR_KUBECONFIG');
    expect(error.message).toContain('has no current context to take the cluster from');
    expect(error.hint).toMatch(/--context/);
    expect(readdirSync(temp.path)).toEqual([]);
  });

  it('writes through a symlink to its target; the link stays a link', async () => {
    const target = join(temp.path, 'dotfiles', 'kubeconfig');
    const original = kubectlKubeconfig(target);
    const link = join(temp.path, 'home', '.kube', 'config');
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync('../../dotfiles/kubeconfig', link);

    const result = await mergeKubeconfig({ path: link, user: OIDC_USER });

    expect(result.path).toBe(realpathSync(target));
    expect(result.backupPath).toBe(`${realpathSync(target)}.bak`);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('../../dotfiles/kubeconfig');
    expect(readdirSync(dirname(link))).toEqual(['config']);
    expect(readdirSync(dirname(target)).sort()).toEqual(['kubeconfig', 'kubeconfig.bak']);
    expect(readFileSync(`${target}.bak`, 'utf8')).toBe(original);
    expect(kubectl(link, 'config', 'view', '--raw', '-o', 'jsonpath={.users[?(@.name=="oidc")].user.exec.command}')).toBe('kubectl-oidc_login');
  });

  it('creates the target of a dangling symlink', async () => {
    const link = join(temp.path, 'config');
    symlinkSync('real/kubeconfig', link);
    const result = await mergeKubeconfig({ path: link, user: OIDC_USER });
    expect(result).toMatchObject({ path: join(temp.path, 'real', 'kubeconfig'), created: true });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(mode(join(temp.path, 'real', 'kubeconfig'))).toBe(0o600);
  });

  it.each([
    ['invalid YAML', 'apiVersion: v1\nusers: [\n', /is not valid YAML/],
    ['a top-level list', '- name: a\n- name: b\n', /its top level is a list, not a map/],
    ['users that is a map', 'apiVersion: v1\nusers:\n  oidc: {}\n', /its "users" is a map, not a list/],
    ['contexts that is a string', 'apiVersion: v1\ncontexts: none\n', /its "contexts" is the scalar "none", not a list/],
    ['two users of the same name', 'users:\n- name: oidc\n  user: {}\n- name: oidc\n  user: {}\n', /has 2 users named "oidc"/],
    // The result is checked before writing: replacing the user would break the alias (`other` would change).
    ['a user that an alias refers to', 'users:\n- &u\n  name: oidc\n  user: {}\nother: *u\n', /could not merge into .* safely \("other" would change unexpectedly\); nothing was written/],
    ['not UTF-8', Buffer.from([0x6b, 0x3a, 0x20, 0xff, 0x0a]), /is not UTF-8/],
  ])('refuses %s and writes nothing', async (_name, content, message) => {
    const file = join(temp.path, 'config');
    writeFileSync(file, content);
    const error = await rejection(mergeKubeconfig({ path: file, user: OIDC_USER }));
    expect(error.code).toBe('ERR_KUBECONFIG');
    expect(error.message).toMatch(message);
    expect(error.message).toContain(file);
    expect(error.hint).toBeTruthy();
    expect(readFileSync(file)).toEqual(Buffer.from(content));
    expect(readdirSync(temp.path)).toEqual(['config']);
  });
});

describe('mergeKubeconfigText', () => {
  it('quotes keys that YAML 1.1 reads as booleans', () => {
    const merged = mergeKubeconfigText(undefined, { user: { name: 'u', user: { exec: { env: [{ name: 'y', value: 'n' }] } } } });
    expect(merged.text).toContain('"y"');
    expect(parseDocument(merged.text, { version: '1.1' }).toJS()).toMatchObject({ users: [{ name: 'u', user: { exec: { env: [{ name: 'y', value: 'n' }] } } }] });
  });

  it('drops undefined fields of the request, as YAML cannot hold them', () => {
    const exec = { ...(OIDC_USER.user['exec'] as object), env: undefined };
    const merged = mergeKubeconfigText('users: []\n', { user: { name: 'oidc', user: { exec } } });
    expect(merged.text).toBe(OIDC_BLOCK);
    expect(mergeKubeconfigText(merged.text, { user: { name: 'oidc', user: { exec } } }).userAction).toBe('unchanged');
  });

  it('appends a context whose cluster is that of the current context', () => {
    const original = 'contexts:\n- context:\n    cluster: c1\n    user: a\n  name: one\ncurrent-context: one\n';
    const merged = mergeKubeconfigText(original, { user: OIDC_USER, context: { name: 'two' } });
    expect(merged.contextAction).toBe('added');
    expect(parseDocument(merged.text).toJS()).toMatchObject({ contexts: [{ name: 'one' }, { name: 'two', context: { cluster: 'c1', user: 'oidc' } }] });
    expect(() => mergeKubeconfigText('current-context: gone\n', { user: OIDC_USER, context: { name: 'two' } })).toThrow(/current context "gone" of the kubeconfig does not exist/);
  });
});

describe('defaultKubeconfigPath', () => {
  const none = () => false;
  it('is the first existing $KUBECONFIG file, else its first entry, else ~/.kube/config', () => {
    expect(defaultKubeconfigPath({ KUBECONFIG: ['', '/a', '/b'].join(delimiter) }, none)).toBe('/a');
    expect(defaultKubeconfigPath({ KUBECONFIG: ['/a', '/b'].join(delimiter) }, (path) => path === '/b')).toBe('/b');
    expect(defaultKubeconfigPath({ KUBECONFIG: '', HOME: '/home/me' }, none)).toBe(join('/home/me', '.kube', 'config'));
    expect(defaultKubeconfigPath({ USERPROFILE: 'C:\\Users\\me' }, none)).toBe(join('C:\\Users\\me', '.kube', 'config'));
  });
});
