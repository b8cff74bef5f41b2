/**
 * Fetches the discovery document the way kube-apiserver does (kubernetes.md §2.2 step 2): GET
 * `<issuer without trailing slash>/.well-known/openid-configuration`, then the document's `issuer` must
 * equal the configured URL byte for byte. openid-client normalises URLs before comparing, so it accepts
 * `https://idp` for a provider whose issuer is `https://idp/`; the API server does not. setup uses this to
 * find the exact issuer before anything is generated.
 */
import { isRecord } from '../core/exec-credential.js';
import { PluginError } from '../core/errors.js';
import { toPluginError } from './provider-errors.js';

const TIMEOUT_MS = 30_000;

export interface DiscoveryProbe {
  /** The document's `issuer`, verbatim. */
  issuer: string;
  metadata: Record<string, unknown>;
}

export async function probeDiscovery(issuerUrl: string, headers: Record<string, string>): Promise<DiscoveryProbe> {
  const url = `${issuerUrl.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let body: unknown;
  try {
    const response = await fetch(url, { headers: { accept: 'application/json', ...headers }, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
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
