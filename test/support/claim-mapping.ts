import type { ClaimMapping } from '../../src/core/cluster-auth.js';

/** A claim mapping with kube-apiserver's usual choices (email, groups, no prefixes, RS256), changed as given. */
export function claimMapping(change: Partial<ClaimMapping> = {}): ClaimMapping {
  return {
    issuerUrl: 'https://idp.example.com',
    clientId: 'kubectl',
    usernameClaim: 'email',
    usernamePrefix: undefined,
    groupsClaim: 'groups',
    groupsPrefix: undefined,
    requiredClaims: [],
    signingAlgs: ['RS256'],
    ...change,
  };
}
