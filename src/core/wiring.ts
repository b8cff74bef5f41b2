/**
 * Everything `kubectl oidc-login setup` prints to wire a cluster to the provider, generated from one
 * ClaimMapping so that every cluster kind maps a token to the same user and groups (and the same RBAC
 * applies everywhere). Pure. Each artifact is checked as its reader gets it (YAML/JSON parsed back)
 * against the rules of the component that will consume it; `problems` says what would be rejected.
 * Printed texts show secrets as REDACTED unless showSecrets; `kubeconfigUser.entry` keeps the real values
 * because it is what gets written.
 */
import { buildAuthenticationConfiguration, buildApiServerFlags } from './wiring/apiserver.js';
import { buildAks, buildEks, buildGke } from './wiring/clouds.js';
import type { Artifact, WiringInput } from './wiring/common.js';
import { buildKubeconfigUser, buildSetCredentials, type KubeconfigUserEntry } from './wiring/kubeconfig.js';
import { buildRbac } from './wiring/rbac.js';

export type { Artifact, WiringInput } from './wiring/common.js';
export type { KubeconfigUserEntry } from './wiring/kubeconfig.js';
export { REDACTED } from './wiring/common.js';
export { PLUGIN_COMMAND } from './wiring/kubeconfig.js';
export { AUTHN_CONFIG_V1, AUTHN_CONFIG_V1BETA1, validateAuthenticationConfiguration } from './wiring/apiserver.js';
export { bindingName, isDnsSubdomain } from './wiring/rbac.js';
export { celClaim, celString, csvQuote, readCsvRecord, shellQuote } from './wiring/quoting.js';

export interface Wiring {
  /** entry: for writing a kubeconfig (real secrets); text: the YAML `users:` snippet. */
  kubeconfigUser: Artifact & { entry: KubeconfigUserEntry };
  /** The same entry as a `kubectl config set-credentials` command (kubectl 1.30+ for --exec-interactive-mode). */
  setCredentials: Artifact;
  /** kube-apiserver --oidc-* flags; text: one per line. */
  apiServerFlags: Artifact & { flags: string[] };
  /** The AuthenticationConfiguration equivalent to the flags (kube-apiserver --authentication-config). */
  authenticationConfiguration: Artifact & { apiVersion: string };
  eks: { associate: Artifact; eksctl: Artifact };
  /** A `kubectl patch clientconfig default -n kube-public` command (Identity Service for GKE, deprecated). */
  gke: Artifact;
  /** `json`: the JWT authenticator config file; `command`: the `az aks jwtauthenticator add` command. */
  aks: { json: Artifact; command: Artifact };
  /** Multi-document YAML: bindings for the user and each non-system group. */
  rbac: Artifact;
}

export function buildWiring(input: WiringInput): Wiring {
  return {
    kubeconfigUser: buildKubeconfigUser(input),
    setCredentials: buildSetCredentials(input),
    apiServerFlags: buildApiServerFlags(input.mapping),
    authenticationConfiguration: buildAuthenticationConfiguration(input),
    eks: buildEks(input.mapping),
    gke: buildGke(input),
    aks: buildAks(input.mapping),
    rbac: buildRbac(input),
  };
}
