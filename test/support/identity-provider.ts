/**
 * A local OpenID Provider for tests and demos: oidc-provider 9.13.3 on 127.0.0.1 with custom
 * (non-interactive-friendly) login pages, counters and a few switches that emulate real IdPs.
 *
 * See /work/shared/reference/libraries.md §3 for the reasoning behind the configuration.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { JWK } from 'jose';

/** The public (PKCE, no secret) client registered by default. */
export const PUBLIC_CLIENT_ID = 'kubectl';
/** The confidential client registered by default (client_secret_basic; client_secret_post works too). */
export const CONFIDENTIAL_CLIENT_ID = 'kubectl-secret';
export const CONFIDENTIAL_CLIENT_SECRET = 'kubectl-secret-value';
/** The default account. */
export const DEFAULT_LOGIN = 'alice';
export const DEFAULT_PASSWORD = 'alice-pw';
/** Audience of JWT access tokens when `accessTokenFormat: 'jwt'`. */
export const DEFAULT_ACCESS_TOKEN_AUDIENCE = 'kubernetes';
/** Resource indicator used as the default resource when `accessTokenFormat: 'jwt'`. */
export const ACCESS_TOKEN_RESOURCE = 'urn:kubectl-oidc-login:test-resource';

/** Loopback redirect URIs of the default clients; any port matches for native clients (§3.2). */
export const LOOPBACK_REDIRECT_URIS: readonly string[] = [
  'http://localhost',
  'http://127.0.0.1',
  'http://localhost/',
  'http://127.0.0.1/',
  'http://localhost/callback',
  'http://127.0.0.1/callback',
];

/** The out-of-band redirect URI (authcode-keyboard's default), registered for the default clients too. */
export const OOB_REDIRECT_URI = 'urn:ietf:wg:oauth:2.0:oob';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface TestAccount {
  password: string;
  /** Claims returned for the account (`sub` is always the account id). */
  claims: Record<string, unknown>;
}

/** Client metadata as accepted by oidc-provider (snake_case). */
export type ClientMetadata = Record<string, unknown> & { client_id: string };

export interface IdpOptions {
  /** Listen port; 0 (default) picks a free one. */
  port?: number;
  /** Serve https with this certificate (issuer becomes https://127.0.0.1:<port>). */
  https?: { certPem: string; keyPem: string };
  /** `id_token_signed_response_alg` of the default clients. Default RS256. */
  signingAlg?: 'RS256' | 'ES256';
  /** Extra clients (oidc-provider metadata), added after the default ones. */
  clients?: ClientMetadata[];
  /** Accounts; default `{ alice: { password: 'alice-pw', claims: {...} } }`. */
  accounts?: Record<string, TestAccount>;
  idTokenTtlSec?: number;
  accessTokenTtlSec?: number;
  refreshTokenTtlSec?: number;
  /** When false, discovery omits `code_challenge_methods_supported` (PKCE stays required). Default true. */
  advertisePkce?: boolean;
  /** 'jwt' issues RS256 JWT access tokens with audience `accessTokenAudience`. Default 'opaque'. */
  accessTokenFormat?: 'opaque' | 'jwt';
  accessTokenAudience?: string;
  /** Finish every interaction at once as this account (no form). */
  autoLogin?: string;
  /** Private signing JWKs; default: RS256 + ES256 keys generated once per process. */
  jwks?: { keys: JWK[] };
  /** Enable the resource owner password grant (`grant_type=password`) for the default clients. Default true. */
  passwordGrant?: boolean;
  /** Publish the issuer with a trailing slash (`https://127.0.0.1:<port>/`), as JumpCloud and Auth0 do. */
  issuerTrailingSlash?: boolean;
  /**
   * When false, the provider ignores PKCE entirely, like a provider that does not enforce it: the
   * challenge is stripped from authorization requests and the verifier from token requests. Default true.
   */
  pkceEnforced?: boolean;
  /** When false, no refresh tokens are issued (a provider or app without the refresh grant). Default true. */
  refreshTokens?: boolean;
  /**
   * The client_credentials grant for the confidential client (oidc-provider issues no id_token for it; with
   * `accessTokenFormat: 'jwt'` the access token is a JWT whose sub is the client ID). Default true.
   */
  clientCredentials?: boolean;
  /**
   * Like Keycloak with PKCE enforced (kubelogin #1470): a device authorization request without an S256
   * code_challenge is answered 400 invalid_request, and the device_code token request must carry the
   * matching code_verifier (else invalid_grant). oidc-provider has no PKCE in the device flow; this adds it.
   */
  requireDevicePkce?: boolean;
  /** `interval` (seconds, fractions allowed) added to device authorization responses; oidc-provider omits it (clients then wait 5 s). */
  deviceInterval?: number;
}

export interface IdpCounts {
  /** GETs of /.well-known/openid-configuration (and /.well-known/oauth-authorization-server). */
  discovery: number;
  jwks: number;
  /** Authorization requests that were accepted (redirected to the login page or straight back with a code). */
  authorizations: number;
  deviceAuthorizations: number;
  /** Device authorization requests that carried a code_challenge. */
  deviceAuthorizationsWithPkce: number;
  /** Device authorization requests refused for lack of PKCE (`requireDevicePkce`). */
  deviceAuthorizationsRejected: number;
  /** Token endpoint requests by grant_type. */
  tokenRequests: Record<string, number>;
  /** Token endpoint error responses by OAuth error code. */
  tokenErrors: Record<string, number>;
  /** Successful logins through the interaction pages (form or autoLogin). */
  logins: number;
  /** Every HTTP request. */
  requests: number;
}

export interface IdpEvent {
  method: string;
  path: string;
  /** When the request arrived (Date.now()). */
  at: number;
  grantType?: string;
  status?: number;
  error?: string;
  /** Authorization requests: the login_hint and prompt parameters as sent. */
  loginHint?: string;
  prompt?: string;
  /** Authorization requests: the client_id parameter. */
  clientId?: string;
}

/** Minimal typing of the parts of oidc-provider's Provider that tests may use. */
export interface OidcProvider {
  readonly issuer: string;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(fn: KoaMiddleware): unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  registerGrantType(name: string, handler: (ctx: any) => Promise<void>, params?: string[]): void;
  Grant: GrantClass;
  [key: string]: any;
}

interface GrantInstance {
  accountId?: string;
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

interface GrantClass {
  new (init: { accountId: string; clientId: string }): GrantInstance;
  find(id: string): Promise<GrantInstance | undefined>;
}

interface InteractionDetails {
  uid: string;
  grantId?: string;
  params: Record<string, unknown>;
  prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
  session?: { accountId?: string };
}

interface KoaContext {
  method: string;
  path: string;
  status: number;
  body: unknown;
  type: string;
  host: string;
  req: IncomingMessage;
  request: { body?: unknown };
  response: { get(header: string): string };
  oidc?: { route?: string; params?: Record<string, unknown>; client?: { clientId: string; clientName?: string } };
  get(header: string): string;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
interface OidcProviderModule {
  default: ProviderConstructor;
  errors: Record<string, new (description?: string) => Error>;
}

export interface TestIdp {
  /** `http://127.0.0.1:<port>` (or https), without a trailing slash unless `issuerTrailingSlash`. */
  issuer: string;
  port: number;
  /** Default public client id (`kubectl`). */
  clientId: string;
  /** Default confidential client id and secret. */
  confidentialClientId: string;
  confidentialClientSecret: string;
  /** The live account table (mutations are seen by later logins and refreshes). */
  accounts: Record<string, TestAccount>;
  counts: IdpCounts;
  events: IdpEvent[];
  /** Exceptions oidc-provider reported through its `server_error` event. */
  serverErrors: unknown[];
  resetCounts(): void;
  /**
   * Test hooks, settable at any time. tokenResponse may change a successful token response body in place.
   * tokenError may answer a token request with an OAuth error (HTTP 400) before oidc-provider sees it, e.g.
   * `slow_down` for the device_code grant; the request is counted as usual. request sees every request first
   * (counted as usual) and may answer it itself, returning true, with what oidc-provider cannot send: an HTTP
   * 500, an HTML page, no answer at all.
   */
  hooks: {
    request?: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
    tokenResponse?: ((body: Record<string, unknown>) => void) | undefined;
    tokenError?: ((grantType: string, form: URLSearchParams) => { error: string; error_description?: string } | undefined) | undefined;
  };
  /**
   * Signs a token with the IdP's own private key (so it verifies against its JWKS), for tests that
   * need tokens the IdP would not issue (expired, other audience, odd claims). Defaults: iss = issuer,
   * sub = 'alice' with that account's claims, aud = 'kubectl', iat = now, exp = now + idTokenTtlSec.
   * A claim given as `undefined` is removed.
   */
  mintToken(claims?: Record<string, unknown>, options?: { alg?: 'RS256' | 'ES256'; kid?: string }): Promise<string>;
  provider: OidcProvider;
  close(): Promise<void>;
}

let modulePromise: Promise<OidcProviderModule> | undefined;

/** Imports oidc-provider once, hiding its "Unsupported runtime" warning (it only means "not Node 22+"). */
function loadOidcProvider(): Promise<OidcProviderModule> {
  modulePromise ??= (async () => {
    const original = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
      original.apply(console, args);
    };
    try {
      // A non-literal specifier: oidc-provider ships no type declarations (typed locally above).
      return (await import('oidc-provider' as string)) as OidcProviderModule;
    } finally {
      console.warn = original;
    }
  })();
  return modulePromise;
}

let defaultKeysPromise: Promise<{ keys: JWK[] }> | undefined;

/** RS256 + ES256 private JWKs, generated once per process. */
function defaultSigningKeys(): Promise<{ keys: JWK[] }> {
  defaultKeysPromise ??= (async () => {
    const [rsa, ec] = await Promise.all([
      generateKeyPair('RS256', { extractable: true, modulusLength: 2048 }),
      generateKeyPair('ES256', { extractable: true }),
    ]);
    const rsaJwk = { ...(await exportJWK(rsa.privateKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
    const ecJwk = { ...(await exportJWK(ec.privateKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' };
    return { keys: [rsaJwk, ecJwk] };
  })();
  return defaultKeysPromise;
}

export function defaultAccounts(): Record<string, TestAccount> {
  return {
    [DEFAULT_LOGIN]: {
      password: DEFAULT_PASSWORD,
      claims: {
        email: 'alice@example.com',
        email_verified: true,
        groups: ['dev', 'ops'],
        name: 'Alice',
        preferred_username: 'alice',
      },
    },
  };
}

function emptyCounts(): IdpCounts {
  return {
    discovery: 0,
    jwks: 0,
    authorizations: 0,
    deviceAuthorizations: 0,
    deviceAuthorizationsWithPkce: 0,
    deviceAuthorizationsRejected: 0,
    tokenRequests: {},
    tokenErrors: {},
    logins: 0,
    requests: 0,
  };
}

function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A plain page: no external assets, no scripts. */
function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginForm(uid: string, message?: string): string {
  return page(
    'Sign in',
    `${message ? `<p id="message">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="login">Login</label> <input id="login" name="login" type="text" autocomplete="username" autofocus>
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password">
<button id="submit" type="submit">Sign in</button>
</form>`,
  );
}

/**
 * Starts the test IdP on 127.0.0.1. `close()` stops it and drops every connection.
 */
export async function startIdentityProvider(options: IdpOptions = {}): Promise<TestIdp> {
  const { default: Provider, errors } = await loadOidcProvider();
  const jwks = options.jwks ?? (await defaultSigningKeys());
  const accounts = options.accounts ?? defaultAccounts();
  const advertisePkce = options.advertisePkce ?? true;
  const jwtAccessTokens = options.accessTokenFormat === 'jwt';
  const audience = options.accessTokenAudience ?? DEFAULT_ACCESS_TOKEN_AUDIENCE;
  const passwordGrant = options.passwordGrant ?? true;
  const signingAlg = options.signingAlg ?? 'RS256';

  const counts = emptyCounts();
  const events: IdpEvent[] = [];
  const serverErrors: unknown[] = [];
  const eventOf = new WeakMap<IncomingMessage, IdpEvent>();

  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const event: IdpEvent = { method: req.method ?? 'GET', path, at: Date.now() };
    events.push(event);
    eventOf.set(req, event);
    counts.requests += 1;
    res.once('finish', () => {
      event.status = res.statusCode;
    });
    if (path === '/auth') acceptSelectAccount(req, event);
    if (hooks.request?.(req, res) === true) return;
    handler(req, res);
  };
  const server: Server = options.https
    ? createHttpsServer({ cert: options.https.certPem, key: options.https.keyPem }, listener)
    : createHttpServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `${options.https ? 'https' : 'http'}://127.0.0.1:${port}${options.issuerTrailingSlash ? '/' : ''}`;
  const pkceEnforced = options.pkceEnforced ?? true;
  const refreshTokens = options.refreshTokens ?? true;
  const clientCredentials = options.clientCredentials ?? true;
  const requireDevicePkce = options.requireDevicePkce ?? false;
  /** requireDevicePkce: the S256 challenge of each device_code, and of each device authorization request in flight. */
  const deviceChallenges = new Map<string, string>();
  const pendingDeviceChallenge = new WeakMap<IncomingMessage, string>();

  const grantTypes = ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT];
  if (passwordGrant) grantTypes.push('password');
  const defaultClients: ClientMetadata[] = [
    {
      client_id: PUBLIC_CLIENT_ID,
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: [...LOOPBACK_REDIRECT_URIS, OOB_REDIRECT_URI],
      grant_types: grantTypes,
      response_types: ['code'],
      id_token_signed_response_alg: signingAlg,
    },
    {
      client_id: CONFIDENTIAL_CLIENT_ID,
      client_secret: CONFIDENTIAL_CLIENT_SECRET,
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [...LOOPBACK_REDIRECT_URIS, OOB_REDIRECT_URI],
      grant_types: clientCredentials ? [...grantTypes, 'client_credentials'] : grantTypes,
      response_types: ['code'],
      id_token_signed_response_alg: signingAlg,
    },
  ];

  async function findAccount(_ctx: unknown, sub: string) {
    const account = accounts[sub];
    if (!account) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ ...account.claims, sub }),
    };
  }

  const provider = new Provider(issuer, {
    adapter: createMemoryAdapterFactory(),
    clients: [...defaultClients, ...(options.clients ?? [])],
    jwks,
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: {
      // Claims no scope below names (e.g. Auth0-style namespaced ones) come with openid, as custom claims do.
      openid: ['sub', ...customClaimNames(accounts)],
      email: ['email', 'email_verified'],
      groups: ['groups'],
      profile: ['name', 'preferred_username'],
    },
    // Without this, email/groups would only be served by /userinfo, not put in the ID token.
    conformIdTokenClaims: false,
    pkce: { required: () => pkceEnforced },
    // Like Dex/Keycloak: a refresh token whenever the client may use the grant, offline_access or not.
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) =>
      refreshTokens && client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    clientBasedCORS: () => false,
    findAccount,
    ttl: {
      IdToken: options.idTokenTtlSec ?? 300,
      AccessToken: options.accessTokenTtlSec ?? 300,
      ClientCredentials: options.accessTokenTtlSec ?? 300,
      RefreshToken: options.refreshTokenTtlSec ?? 86_400,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Interaction: 600,
      Session: 86_400,
      Grant: 86_400,
    },
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    renderError: async (ctx: KoaContext, out: Record<string, unknown>) => {
      ctx.type = 'html';
      const rows = Object.entries(out)
        .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd id="${escapeHtml(k)}">${escapeHtml(v)}</dd>`)
        .join('\n');
      ctx.body = page('Error', `<dl id="details">\n${rows}\n</dl>`);
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      clientCredentials: { enabled: clientCredentials },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx: KoaContext, form: string, _out: unknown, err?: { name?: string; userCode?: string }) => {
          const msg = err
            ? `<p id="message">${err.userCode || err.name === 'NoCodeError' ? 'The code you entered is incorrect.' : 'There was an error processing your request.'}</p>`
            : '<p>Enter the code displayed on your device.</p>';
          ctx.type = 'html';
          ctx.body = page('Device sign-in', `${msg}\n${form}\n<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        userCodeConfirmSource: async (ctx: KoaContext, form: string, client: { clientId: string }, _info: unknown, userCode: string) => {
          ctx.type = 'html';
          ctx.body = page(
            'Confirm device',
            `<p>Client <strong>${escapeHtml(client.clientId)}</strong> shows the code <code id="user_code">${escapeHtml(userCode)}</code>.</p>
${form}
<button id="submit" type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`,
          );
        },
        successSource: async (ctx: KoaContext) => {
          ctx.type = 'html';
          ctx.body = page('Device sign-in complete', '<p id="success">You can close this page.</p>');
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: KoaContext, form: string) => {
          ctx.type = 'html';
          ctx.body = page(
            'Sign out',
            `${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button type="submit" form="op.logoutForm">Stay signed in</button>`,
          );
        },
        postLogoutSuccessSource: async (ctx: KoaContext) => {
          ctx.type = 'html';
          ctx.body = page('Signed out', '<p id="success">You are signed out.</p>');
        },
      },
      resourceIndicators: jwtAccessTokens
        ? {
            enabled: true,
            defaultResource: async () => ACCESS_TOKEN_RESOURCE,
            useGrantedResource: async () => true,
            getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
              if (indicator !== ACCESS_TOKEN_RESOURCE) throw new (errors.InvalidTarget as new () => Error)();
              return {
                scope: 'openid email groups profile offline_access',
                audience,
                accessTokenTTL: options.accessTokenTtlSec ?? 300,
                accessTokenFormat: 'jwt',
                jwt: { sign: { alg: 'RS256' } },
              };
            },
          }
        : { enabled: false },
    },
  });

  provider.on('server_error', (_ctx: unknown, err: unknown) => {
    serverErrors.push(err);
    console.error('test IdP server_error:', err);
  });

  const hooks: TestIdp['hooks'] = {};
  // Counters and discovery post-processing; runs around every oidc-provider route.
  provider.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    const event = eventOf.get(ctx.req);
    switch (route) {
      case 'discovery':
        if (ctx.method === 'GET') counts.discovery += 1;
        if (!advertisePkce && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
          // Emulates Entra ID / Cognito: PKCE works but is not advertised.
          delete (ctx.body as Record<string, unknown>).code_challenge_methods_supported;
        }
        break;
      case 'jwks':
        counts.jwks += 1;
        break;
      case 'authorization': {
        const location = ctx.status >= 300 && ctx.status < 400 ? ctx.response.get('location') : '';
        if (location && !/[?&#]error=/.test(location)) counts.authorizations += 1;
        break;
      }
      case 'device_authorization':
        if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
          counts.deviceAuthorizations += 1;
          const body = ctx.body as Record<string, unknown>;
          const challenge = pendingDeviceChallenge.get(ctx.req);
          if (challenge !== undefined && typeof body.device_code === 'string') deviceChallenges.set(body.device_code, challenge);
          if (options.deviceInterval !== undefined) body.interval = options.deviceInterval;
        }
        break;
      case 'token': {
        if (hooks.tokenResponse && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
          hooks.tokenResponse(ctx.body as Record<string, unknown>);
        }
        const params = ctx.oidc?.params ?? {};
        const body = (ctx.request.body ?? {}) as Record<string, unknown>;
        const grantType = String(params.grant_type ?? body.grant_type ?? 'unknown');
        counts.tokenRequests[grantType] = (counts.tokenRequests[grantType] ?? 0) + 1;
        if (event) event.grantType = grantType;
        if (ctx.status >= 400) {
          const error =
            ctx.body && typeof ctx.body === 'object' && typeof (ctx.body as { error?: unknown }).error === 'string'
              ? (ctx.body as { error: string }).error
              : `http_${ctx.status}`;
          counts.tokenErrors[error] = (counts.tokenErrors[error] ?? 0) + 1;
          if (event) event.error = error;
        }
        break;
      }
      default:
    }
  });

  if (passwordGrant) registerPasswordGrant(provider, errors, accounts, findAccount);

  async function finishInteraction(
    req: IncomingMessage,
    res: ServerResponse,
    details: InteractionDetails,
    accountId: string,
  ): Promise<void> {
    const clientId = String(details.params.client_id);
    let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    if (!grant || grant.accountId !== accountId) grant = new provider.Grant({ accountId, clientId });
    const scope = typeof details.params.scope === 'string' ? details.params.scope : 'openid';
    grant.addOIDCScope(scope);
    const d = details.prompt.details;
    if (Array.isArray(d.missingOIDCScope)) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (Array.isArray(d.missingOIDCClaims)) grant.addOIDCClaims(d.missingOIDCClaims as string[]);
    if (d.missingResourceScopes && typeof d.missingResourceScopes === 'object') {
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes as Record<string, string[]>)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    if (jwtAccessTokens) grant.addResourceScope(ACCESS_TOKEN_RESOURCE, scope);
    const grantId = await grant.save();
    counts.logins += 1;
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  async function handleInteraction(
    req: IncomingMessage,
    res: ServerResponse,
    action: string | undefined,
  ): Promise<void> {
    let details: InteractionDetails;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      sendHtml(res, 400, page('Error', `<p id="error">interaction not found: ${escapeHtml((err as Error).message)}</p>`));
      return;
    }
    if (action === undefined && req.method === 'GET') {
      if (options.autoLogin !== undefined) {
        await finishInteraction(req, res, details, options.autoLogin);
        return;
      }
      const sessionAccount = details.session?.accountId;
      if (details.prompt.name === 'consent' && sessionAccount) {
        await finishInteraction(req, res, details, sessionAccount);
        return;
      }
      sendHtml(res, 200, loginForm(details.uid));
      return;
    }
    if (action === 'login' && req.method === 'POST') {
      const form = await readForm(req);
      const login = form.get('login') ?? '';
      const account = accounts[login];
      if (!account || account.password !== (form.get('password') ?? '')) {
        sendHtml(res, 401, page('Sign in failed', '<p id="error">Invalid login or password.</p>'));
        return;
      }
      await finishInteraction(req, res, details, login);
      return;
    }
    if (action === 'abort') {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'End-User aborted interaction' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    sendHtml(res, 404, page('Not found', '<p id="error">not found</p>'));
  }

  /** Requests that preprocess() must see before oidc-provider does (everything else goes straight through). */
  function needsPreprocessing(req: IncomingMessage, path: string): boolean {
    if (path === '/auth') return !pkceEnforced;
    if (req.method !== 'POST') return false;
    if (path === '/device/auth') return true;
    if (path === '/token') return !pkceEnforced || deviceChallenges.size > 0 || hooks.tokenError !== undefined;
    return false;
  }

  /**
   * What oidc-provider cannot be configured to do, done on the raw request: `pkceEnforced: false` (the
   * challenge and verifier are removed before it sees them: it always checks a verifier against a stored
   * challenge), PKCE in the device flow (`requireDevicePkce`), and the tokenError hook. A body read here is
   * handed over as `req.body`, which oidc-provider's parser accepts. Returns true when the request was answered.
   */
  async function preprocess(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (path === '/auth') {
      const url = new URL(req.url ?? '/', 'http://idp');
      url.searchParams.delete('code_challenge');
      url.searchParams.delete('code_challenge_method');
      req.url = `${url.pathname}${url.search}`;
      return false;
    }
    const form = await readForm(req);
    (req as IncomingMessage & { body?: Record<string, string> }).body = Object.fromEntries(form);
    const event = eventOf.get(req);
    if (path === '/device/auth') {
      const challenge = form.get('code_challenge');
      if (challenge) counts.deviceAuthorizationsWithPkce += 1;
      if (!requireDevicePkce) return false;
      const method = form.get('code_challenge_method') ?? 'plain';
      if (!challenge || method !== 'S256') {
        counts.deviceAuthorizationsRejected += 1;
        if (event) event.error = 'invalid_request';
        sendJson(res, 400, { error: 'invalid_request', error_description: challenge ? 'Invalid parameter: code_challenge_method' : 'Missing parameter: code_challenge_method' });
        return true;
      }
      pendingDeviceChallenge.set(req, challenge);
      return false;
    }
    // POST /token
    const grantType = form.get('grant_type') ?? 'unknown';
    const refuse = (error: string, description: string): true => {
      counts.tokenRequests[grantType] = (counts.tokenRequests[grantType] ?? 0) + 1;
      counts.tokenErrors[error] = (counts.tokenErrors[error] ?? 0) + 1;
      if (event) Object.assign(event, { grantType, error });
      sendJson(res, 400, { error, error_description: description });
      return true;
    };
    const hooked = hooks.tokenError?.(grantType, form);
    if (hooked) return refuse(hooked.error, hooked.error_description ?? hooked.error);
    const deviceCode = form.get('device_code');
    const challenge = grantType === DEVICE_CODE_GRANT && deviceCode ? deviceChallenges.get(deviceCode) : undefined;
    if (challenge !== undefined && s256(form.get('code_verifier') ?? '') !== challenge) {
      return refuse('invalid_grant', 'PKCE verification failed: code_verifier missing or wrong');
    }
    if (!pkceEnforced) {
      form.delete('code_verifier');
      (req as IncomingMessage & { body?: Record<string, string> }).body = Object.fromEntries(form);
    }
    return false;
  }

  const providerCallback = provider.callback();
  handler = (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const match = /^\/interaction\/([^/]+)(?:\/([a-z]+))?$/.exec(path);
    if (!match) {
      if (!needsPreprocessing(req, path)) {
        providerCallback(req, res);
        return;
      }
      preprocess(req, res, path)
        .then((answered) => {
          if (!answered) providerCallback(req, res);
        })
        .catch((err: unknown) => {
          serverErrors.push(err);
          res.statusCode = 500;
          res.end();
        });
      return;
    }
    handleInteraction(req, res, match[2]).catch((err: unknown) => {
      serverErrors.push(err);
      console.error('test IdP interaction error:', err);
      if (!res.headersSent) sendHtml(res, 500, page('Error', `<p id="error">${escapeHtml((err as Error).message)}</p>`));
      else res.end();
    });
  };

  return {
    issuer,
    port,
    clientId: PUBLIC_CLIENT_ID,
    confidentialClientId: CONFIDENTIAL_CLIENT_ID,
    confidentialClientSecret: CONFIDENTIAL_CLIENT_SECRET,
    accounts,
    counts,
    events,
    serverErrors,
    hooks,
    resetCounts() {
      Object.assign(counts, emptyCounts());
      events.length = 0;
    },
    async mintToken(claims = {}, mintOptions = {}) {
      const alg = mintOptions.alg ?? 'RS256';
      const jwk = jwks.keys.find((k) => (mintOptions.kid ? k.kid === mintOptions.kid : k.alg === alg));
      if (!jwk) throw new Error(`test IdP: no signing key for ${mintOptions.kid ?? alg}`);
      const now = Math.floor(Date.now() / 1000);
      const sub = typeof claims.sub === 'string' ? claims.sub : DEFAULT_LOGIN;
      const payload: Record<string, unknown> = {
        iss: issuer,
        sub,
        aud: PUBLIC_CLIENT_ID,
        iat: now,
        exp: now + (options.idTokenTtlSec ?? 300),
        ...(accounts[sub]?.claims ?? {}),
        ...claims,
      };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      return new SignJWT(payload)
        .setProtectedHeader({ alg, typ: 'JWT', ...(jwk.kid ? { kid: jwk.kid } : {}) })
        .sign(await importJWK(jwk, alg));
    },
    provider,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * oidc-provider refuses prompt=select_account (it knows only login, consent and none); Google, Entra ID and
 * Keycloak show an account chooser. Emulate those: record login_hint and prompt, and drop select_account.
 */
function acceptSelectAccount(req: IncomingMessage, event: IdpEvent): void {
  const url = new URL(req.url ?? '/', 'http://idp');
  const loginHint = url.searchParams.get('login_hint');
  const prompt = url.searchParams.get('prompt');
  const clientId = url.searchParams.get('client_id');
  if (clientId !== null) event.clientId = clientId;
  if (loginHint !== null) event.loginHint = loginHint;
  if (prompt === null) return;
  event.prompt = prompt;
  const kept = prompt.split(' ').filter((value) => value !== 'select_account');
  if (kept.length > 0) url.searchParams.set('prompt', kept.join(' '));
  else url.searchParams.delete('prompt');
  req.url = `${url.pathname}${url.search}`;
}

/** Names of account claims that no standard scope covers. */
function customClaimNames(accounts: Record<string, TestAccount>): string[] {
  const standard = new Set(['sub', 'email', 'email_verified', 'groups', 'name', 'preferred_username', '_claim_names', '_claim_sources']);
  const names = new Set<string>();
  for (const account of Object.values(accounts)) for (const name of Object.keys(account.claims)) if (!standard.has(name)) names.add(name);
  return [...names];
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify(body));
}

/** `grant_type=password` (not built into oidc-provider; libraries.md §3.6). */
function registerPasswordGrant(
  provider: OidcProvider,
  errors: OidcProviderModule['errors'],
  accounts: Record<string, TestAccount>,
  findAccount: (ctx: unknown, sub: string) => Promise<{ accountId: string; claims(): Promise<Record<string, unknown>> } | undefined>,
): void {
  const InvalidGrant = errors.InvalidGrant as new (description?: string) => Error;
  provider.registerGrantType(
    'password',
    async (ctx: any) => {
      const params = ctx.oidc.params as Record<string, string | undefined>;
      const username = params.username ?? '';
      const scope = params.scope ?? 'openid';
      const account = accounts[username];
      if (!account || account.password !== params.password) {
        throw new InvalidGrant('invalid username or password');
      }
      const client = ctx.oidc.client;
      const grant = new provider.Grant({ accountId: username, clientId: client.clientId });
      grant.addOIDCScope(scope);
      const grantId = await grant.save();
      const at = new provider.AccessToken({ accountId: username, client, grantId, scope, gty: 'password' });
      const accessToken: string = await at.save();
      const claims = (await (await findAccount(ctx, username))?.claims()) ?? { sub: username };
      const idt = new provider.IdToken({ ...claims }, { ctx, client });
      idt.scope = scope;
      idt.set('at_hash', accessToken);
      const rt = new provider.RefreshToken({ accountId: username, client, grantId, scope, gty: 'password' });
      ctx.body = {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: at.expiration,
        scope,
        id_token: await idt.issue({ use: 'idtoken' }),
        refresh_token: await rt.save(),
      };
    },
    ['username', 'password', 'scope'],
  );
}

/**
 * A per-provider in-memory adapter (like oidc-provider's own, which prints a warning when used).
 * Revoking a grant removes every token of it, so refresh-token reuse detection works.
 */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

function createMemoryAdapterFactory() {
  const store = new Map<string, { payload: Record<string, unknown>; expiresAt: number }>();
  const index = new Map<string, string>();
  const get = (key: string) => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  const expiry = (expiresIn?: number) => (typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity);

  return (model: string) => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
        store.set(key(id), { payload, expiresAt: expiry(expiresIn) });
        if (model === 'Session' && typeof payload.uid === 'string') index.set(`sessionUid:${payload.uid}`, id);
        if (typeof payload.userCode === 'string') index.set(`userCode:${payload.userCode}`, id);
      },
      async find(id: string) {
        return get(key(id));
      },
      async findByUid(uid: string) {
        const id = index.get(`sessionUid:${uid}`);
        return id === undefined ? undefined : get(key(id));
      },
      async findByUserCode(userCode: string) {
        const id = index.get(`userCode:${userCode}`);
        return id === undefined ? undefined : get(key(id));
      },
      async consume(id: string) {
        const payload = get(key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id: string) {
        store.delete(key(id));
      },
      async revokeByGrantId(grantId: string) {
        for (const [k, entry] of store) {
          if (entry.payload.grantId === grantId && GRANTABLE.has(k.slice(0, k.indexOf(':')))) store.delete(k);
        }
      },
    };
  };
}
