/**
 * Fetches the discovery document the way kube-apiserver does (kubernetes.md §2.2 step 2): GET
 * `<issuer without trailing slash>/.well-known/openid-configuration`, then the document's `issuer` must
 * equal the configured URL byte for byte. openid-client normalises URLs before comparing, so it accepts
 * `https://idp` for a provider whose issuer is `https://idp/`; the API server does not. setup uses this to
 * find the exact issuer before anything is generated.
 */
import type { ProviderConfig } from '../core/config.js';
import { isRecord } from '../core/exec-credential.js';
import { PluginError } from '../core/errors.js';
import type { Logger } from '../system/log.js';
import { createProviderFetch, type ProviderEnvironment, type ProviderFetch } from './http.js';
import { toPluginError } from './provider-errors.js';

export interface DiscoveryProbe {
  /** The document's `issuer`, verbatim. */
  issuer: string;
  metadata: Record<string, unknown>;
}

/** setup's probe for `provider`: through the same HTTP client (TLS flags, proxy, headers) as every provider request. */
export function discoveryProber(provider: ProviderConfig, env: ProviderEnvironment, log: Logger): (issuerUrl: string, headers: Record<string, string>) => Promise<DiscoveryProbe> {
  return (issuerUrl, headers) => probeDiscovery(issuerUrl, createProviderFetch({ ...provider, issuerUrl, requestHeaders: headers }, env, log));
}

/** `providerFetch` sends --oidc-request-header and applies the timeout (http.ts). */
export async function probeDiscovery(issuerUrl: string, providerFetch: ProviderFetch): Promise<DiscoveryProbe> {
  const url = `${issuerUrl.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let body: unknown;
  try {
    const response = await providerFetch(url, { headers: { accept: 'application/json' }, redirect: 'manual' });
    if (!response.ok) {
      throw new PluginError('ERR_DISCOVERY', `could not discover the OpenID provider: HTTP ${response.status} from ${url}`, {
        hint: 'check --oidc-issuer-url: kube-apiserver fetches the same URL',
      });
    }
    body = await response.json();
  } catch (error) {
    if (error instanceof PluginError) throw error;
    if (error instanceof SyntaxError) throw new PluginError('ERR_DISCOVERY', `the discovery document at ${url} is not JSON`, { hint: 'check --oidc-issuer-url' });
    throw toPluginError(error, 'discovery', issuerUrl);
  }
  if (!isRecord(body) || typeof body['issuer'] !== 'string' || body['issuer'] === '') {
    throw new PluginError('ERR_DISCOVERY', `the discovery document at ${url} has no issuer`, { hint: 'check --oidc-issuer-url' });
  }
  return { issuer: body['issuer'], metadata: body };
}
