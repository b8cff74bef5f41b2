/**
 * `setup --idp` presets: the defaults oidc-setup-guide.md and kubernetes.md §4 give for each identity
 * provider, so that the claims, scopes and prefixes match what the provider really sends. Explicit flags
 * always win over a preset.
 */

export const IDP_NAMES = ['okta', 'entra', 'google', 'jumpcloud', 'keycloak', 'dex', 'auth0', 'generic'] as const;
export type IdpName = (typeof IDP_NAMES)[number];

export interface IdpPreset {
  name: IdpName;
  /** How users know it. */
  title: string;
  /** Scopes requested besides openid when --oidc-extra-scope is not given. */
  scopes: string[];
  usernameClaim: string;
  /** undefined: the provider puts no groups in ID tokens. */
  groupsClaim: string | undefined;
  /** Used for both users and groups (oidc-setup-guide.md: okta:, google:, ms:); undefined for none. */
  prefix: string | undefined;
  /** Force PKCE S256 (the provider supports it without advertising it). */
  forcePkce: boolean;
  requiresClientSecret: boolean;
  /** How to get a refresh token from this provider. */
  refreshTokenFix: string;
  /** How to get a groups claim into the ID token. */
  groupsFix: string;
}

const OFFLINE_ACCESS_FIX = 'request the offline_access scope (--oidc-extra-scope=offline_access) and allow the refresh-token grant for the client';

export const IDP_PRESETS: Record<IdpName, IdpPreset> = {
  okta: {
    name: 'okta',
    title: 'Okta',
    scopes: ['profile', 'email', 'groups', 'offline_access'],
    usernameClaim: 'email',
    groupsClaim: 'groups',
    prefix: 'okta:',
    forcePkce: false,
    requiresClientSecret: false,
    refreshTokenFix: 'request offline_access (--oidc-extra-scope=offline_access) and tick the Refresh Token grant type of the Okta app',
    groupsFix: 'add a "groups" claim to the authorization server (Security > API > Claims, e.g. filter "Starts with k8s-") or the app\'s Groups claim filter, and request --oidc-extra-scope=groups',
  },
  entra: {
    name: 'entra',
    title: 'Microsoft Entra ID',
    scopes: ['profile', 'email', 'offline_access'],
    usernameClaim: 'preferred_username',
    groupsClaim: 'groups',
    prefix: 'ms:',
    forcePkce: true,
    requiresClientSecret: false,
    refreshTokenFix: 'request offline_access (--oidc-extra-scope=offline_access); the app must be a "Mobile and desktop applications" platform, not a single-page application',
    groupsFix: 'set "groupMembershipClaims" (e.g. "ApplicationGroup") in the app manifest and assign the groups to the enterprise application, or use app roles with --groups-claim=roles',
  },
  google: {
    name: 'google',
    title: 'Google',
    scopes: ['profile', 'email'],
    usernameClaim: 'email',
    groupsClaim: undefined,
    prefix: 'google:',
    forcePkce: false,
    requiresClientSecret: true,
    refreshTokenFix:
      'Google returns a refresh token only on the first consent: add --oidc-auth-request-extra-params=prompt=consent (access_type=offline is always sent; do not request offline_access, Google rejects it)',
    groupsFix: 'Google puts no groups in ID tokens: bind RBAC to users, or put Dex or Pinniped in front of Google',
  },
  jumpcloud: {
    name: 'jumpcloud',
    title: 'JumpCloud',
    scopes: ['profile', 'email'],
    usernameClaim: 'email',
    groupsClaim: 'groups',
    prefix: 'jumpcloud:',
    forcePkce: false,
    requiresClientSecret: false,
    refreshTokenFix: 'tick the "Refresh Token" grant type of the JumpCloud OIDC application',
    groupsFix: 'tick "Include group attribute", name it "groups", and assign the user groups to the application',
  },
  keycloak: {
    name: 'keycloak',
    title: 'Keycloak',
    scopes: ['profile', 'email'],
    usernameClaim: 'email',
    groupsClaim: 'groups',
    prefix: 'keycloak:',
    forcePkce: false,
    requiresClientSecret: false,
    refreshTokenFix: 'turn on "Use refresh tokens" in the client\'s advanced settings (or request offline_access for offline tokens)',
    groupsFix: 'add a "Group Membership" mapper with token claim name "groups" to the client (or a client scope), with "Add to ID token" on',
  },
  dex: {
    name: 'dex',
    title: 'Dex',
    scopes: ['profile', 'email', 'groups', 'offline_access'],
    usernameClaim: 'email',
    groupsClaim: 'groups',
    prefix: 'dex:',
    forcePkce: false,
    requiresClientSecret: false,
    refreshTokenFix: 'request offline_access (--oidc-extra-scope=offline_access); Dex issues refresh tokens only for it',
    groupsFix: 'request the groups scope (--oidc-extra-scope=groups) and use a Dex connector that returns groups',
  },
  auth0: {
    name: 'auth0',
    title: 'Auth0',
    scopes: ['profile', 'email', 'offline_access'],
    usernameClaim: 'email',
    groupsClaim: 'groups',
    prefix: 'auth0:',
    forcePkce: false,
    requiresClientSecret: false,
    refreshTokenFix: 'request offline_access (--oidc-extra-scope=offline_access) and enable the Refresh Token grant of the application',
    groupsFix:
      'Auth0 restricts the "groups" claim: add the groups with a post-login Action as a namespaced claim (e.g. https://example.com/groups) and pass --groups-claim=https://example.com/groups',
  },
  generic: {
    name: 'generic',
    title: 'OpenID Connect provider',
    scopes: [],
    usernameClaim: 'email',
    groupsClaim: 'groups',
    prefix: undefined,
    forcePkce: false,
    requiresClientSecret: false,
    refreshTokenFix: OFFLINE_ACCESS_FIX,
    groupsFix: 'request the groups scope (--oidc-extra-scope=groups) or configure the provider to put a "groups" claim in the ID token; --groups-claim= maps no groups',
  },
};
