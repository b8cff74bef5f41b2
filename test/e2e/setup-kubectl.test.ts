/**
 * setup's wiring, used for real: the kubeconfig entry it writes is run by the real kubectl against the
 * API-server emulator configured from the flags (and from the AuthenticationConfiguration) setup printed,
 * and `kubectl auth whoami` must show exactly the username and groups setup predicted.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isMap, isSeq, parse, parseDocument } from 'yaml';
import { startApiServer, type ApiServerOptions, type TestApiServer } from '../support/api-server.js';
import { defaultAccounts, type TestIdp } from '../support/identity-provider.js';
import { PLUGIN_BIN, makeTempDir } from '../support/plugin.js';
import { apiServerOptionsFromAuthenticationConfiguration, apiServerOptionsFromFlags, loginFlags, runSetupJson, startHttpsIdp, testTls, tlsEnv } from '../support/setup-run.js';

const run = promisify(execFile);

let temp: { path: string; remove(): void };
const servers: TestApiServer[] = [];
beforeEach(() => {
  temp = makeTempDir();
  return async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
    temp.remove();
  };
});

async function kubectl(kubeconfig: string, args: string[]): Promise<string> {
  const { stdout } = await run('kubectl', ['--kubeconfig', kubeconfig, ...args], {
    env: { ...process.env, ...(await tlsEnv()), PATH: `${dirname(PLUGIN_BIN)}:${process.env['PATH'] ?? ''}`, HOME: temp.path, KUBECACHEDIR: join(temp.path, 'kube-cache') },
    timeout: 60_000,
  });
  return stdout;
}

async function apiServer(options: ApiServerOptions): Promise<TestApiServer> {
  const server = await startApiServer(options);
  servers.push(server);
  return server;
}

async function whoami(kubeconfig: string, server: TestApiServer): Promise<{ username: string; groups: string[] }> {
  await kubectl(kubeconfig, ['config', 'set-cluster', 'test', `--server=${server.url}`, `--certificate-authority=${server.caPath}`]);
  const review = JSON.parse(await kubectl(kubeconfig, ['--context=test', 'auth', 'whoami', '-o', 'json'])) as { status: { userInfo: { username: string; groups: string[] } } };
  const { username, groups } = review.status.userInfo;
  return { username, groups };
}

/** The source text of every named item of clusters, users and contexts. */
function entryTexts(text: string): Map<string, string> {
  const document = parseDocument(text);
  const texts = new Map<string, string>();
  for (const section of ['clusters', 'users', 'contexts']) {
    const items = document.get(section);
    if (!isSeq(items)) continue;
    for (const item of items.items) {
      if (!isMap(item) || item.range === undefined || item.range === null) continue;
      texts.set(`${section}/${String(item.get('name'))}`, text.slice(item.range[0], item.range[2]));
    }
  }
  return texts;
}

/** A kubeconfig as kubectl writes it, with other clusters, users and contexts that must stay untouched. */
async function existingKubeconfig(): Promise<string> {
  const path = join(temp.path, 'config');
  writeFileSync(path, '', { mode: 0o600 });
  await kubectl(path, ['config', 'set-cluster', 'test', '--server=https://127.0.0.1:1', '--insecure-skip-tls-verify=true']);
  await kubectl(path, ['config', 'set-cluster', 'prod', '--server=https://prod.example.com:6443']);
  await kubectl(path, ['config', 'set-credentials', 'admin', '--token=static-token']);
  await kubectl(path, ['config', 'set-credentials', 'other-oidc', '--exec-api-version=client.authentication.k8s.io/v1', '--exec-command=kubectl', '--exec-arg=oidc-login', '--exec-arg="--oidc-extra-scope=a,b"']);
  await kubectl(path, ['config', 'set-context', 'test', '--cluster=test', '--user=admin']);
  await kubectl(path, ['config', 'set-context', 'prod', '--cluster=prod', '--user=admin', '--namespace=web']);
  await kubectl(path, ['config', 'use-context', 'prod']);
  return path;
}

describe('setup → kubeconfig → kubectl auth whoami', () => {
  let idp: TestIdp;
  beforeAll(async () => {
    const accounts = defaultAccounts();
    if (accounts['alice']) accounts['alice'].claims['hd'] = 'example.com';
    idp = await startHttpsIdp({ accounts });
  });
  afterAll(async () => {
    await idp.close();
  });

  it('writes the user into an existing kubeconfig (other entries byte-identical), and the API server sees exactly the predicted identity, from the flags and from the AuthenticationConfiguration', async () => {
    const kubeconfig = await existingKubeconfig();
    const before = readFileSync(kubeconfig, 'utf8');
    const { json } = await runSetupJson([...loginFlags(idp), '--idp=okta', '--required-claim=hd=example.com', `--write-kubeconfig=${kubeconfig}`, '--context=test']);
    expect(json.apiServer).toEqual({ authenticated: true, username: 'okta:alice@example.com', groups: ['okta:dev', 'okta:ops', 'system:authenticated'] });
    expect(json.kubeconfig).toMatchObject({ path: kubeconfig, backupPath: `${kubeconfig}.bak`, userAction: 'added', contextAction: 'updated' });

    const after = readFileSync(kubeconfig, 'utf8');
    expect(readFileSync(`${kubeconfig}.bak`, 'utf8')).toBe(before);
    const untouched = [...entryTexts(before)].filter(([name]) => name !== 'contexts/test');
    expect(untouched.length).toBe(5);
    for (const [name, text] of untouched) expect(entryTexts(after).get(name), name).toBe(text);
    expect((parse(after) as Record<string, unknown>)['current-context']).toBe('prod');

    // The emulator configured from the generated flags.
    const tls = await testTls();
    idp.resetCounts();
    const fromFlags = await apiServer(apiServerOptionsFromFlags(json.artifacts.apiServerFlags.flags, tls.caPem));
    expect(await whoami(kubeconfig, fromFlags)).toEqual(json.apiServer.authenticated ? { username: json.apiServer.username, groups: json.apiServer.groups } : undefined);
    expect(idp.counts.authorizations).toBe(1);

    // And from the equivalent AuthenticationConfiguration: the same identity, with the cached token.
    idp.resetCounts();
    const fromConfig = await apiServer(apiServerOptionsFromAuthenticationConfiguration(json.artifacts.authenticationConfiguration.text, tls.caPem));
    expect(await whoami(kubeconfig, fromConfig)).toEqual({ username: 'okta:alice@example.com', groups: ['okta:dev', 'okta:ops', 'system:authenticated'] });
    expect(idp.counts.authorizations).toBe(0);
  });

  it('predicts the issuer#sub username and ES256 signing the API server needs --oidc-signing-algs for', async () => {
    const es = await startHttpsIdp({ signingAlg: 'ES256' });
    try {
      const kubeconfig = await existingKubeconfig();
      const { json } = await runSetupJson([...loginFlags(es), '--oidc-extra-scope=email,groups', '--username-claim=sub', '--groups-prefix=oidc:', `--write-kubeconfig=${kubeconfig}`, '--context=test']);
      expect(json.apiServer).toEqual({ authenticated: true, username: `${es.issuer}#alice`, groups: ['oidc:dev', 'oidc:ops', 'system:authenticated'] });
      const tls = await testTls();
      const server = await apiServer(apiServerOptionsFromFlags(json.artifacts.apiServerFlags.flags, tls.caPem));
      expect(await whoami(kubeconfig, server)).toEqual({ username: `${es.issuer}#alice`, groups: ['oidc:dev', 'oidc:ops', 'system:authenticated'] });
      // Without the generated --oidc-signing-algs the API server would reject the token.
      const rs256Only = await apiServer({ ...apiServerOptionsFromFlags(json.artifacts.apiServerFlags.flags.filter((flag) => !flag.startsWith('--oidc-signing-algs')), tls.caPem) });
      await expect(whoami(kubeconfig, rs256Only)).rejects.toThrow(/Unauthorized|must be logged in/);
    } finally {
      await es.close();
    }
  });
});
