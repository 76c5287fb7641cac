// A real OpenID provider (the npm package oidc-provider, OpenID-certified) for twofill's SSO tests.
//
//   node --expose-gc provider.mjs --port 0 --config FILE
//
// listens on 127.0.0.1 (port 0: a free one), prints one line
// `oidc-provider listening on http://127.0.0.1:PORT` (the issuer) and serves until killed.
// The config file (JSON, written by crates/test-oidc) names the clients, the accounts and the
// lifetimes. Besides the provider's own endpoints, this program serves:
//   /interaction/UID          the login page (a form with `login`, `password` and a submit button);
//                             consent is granted without asking.
//   /_test/...                the harness's control API (see handleTest below). Test-only.
// Only this file's logic is ours; discovery, JWKS, tokens, PKCE, refresh and device flow are
// oidc-provider's.

import { createServer } from 'node:http';
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '0' }, config: { type: 'string' } },
});
if (!args.config) {
  console.error('usage: node --expose-gc provider.mjs --port 0 --config FILE');
  process.exit(2);
}
const config = JSON.parse(readFileSync(args.config, 'utf8'));
const started = Date.now();
// Phases go to stderr (the harness keeps it as the provider's log) to explain a slow start.
const phase = (what) => console.error(`provider.mjs: ${what} after ${Date.now() - started} ms`);

// Accounts by id; the control API changes them in place, and every token the provider issues
// reads them afresh (findAccount), so a change shows at the next refresh.
const accounts = new Map((config.accounts ?? []).map((a) => [a.id, normalizeAccount(a)]));

function normalizeAccount(a) {
  return {
    id: String(a.id),
    email: a.email ?? null,
    password: String(a.password ?? ''),
    groups: Array.isArray(a.groups) ? a.groups.map(String) : [],
    enabled: a.enabled !== false,
  };
}

// Signing keys, newest first: oidc-provider signs with the first key that fits the algorithm.
let signingKeys = newKeys();
phase('signing keys made');

// A new RS256 and a new ES256 key, as JWKs with fresh kids.
//
// Node 20 can deadlock exporting a freshly generated key as a JWK: when a garbage collection runs inside the
// export (which holds the key's mutex), it destroys the finished key generation job, whose destructor takes
// the same mutex (seen here: ~KeyGenJob -> uv_mutex_lock under ExportJWKRsaKey, about one start in fifty).
// So the jobs are collected first (the harness runs node with --expose-gc), and only then the keys exported.
function newKeys() {
  const pairs = [
    ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
    ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey],
  ];
  globalThis.gc?.();
  return pairs.map(([alg, privateKey]) => (
    { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg, use: 'sig' }
  ));
}

const ttl = config.ttl ?? {};
const cookieKeys = [randomBytes(32).toString('hex')];
let lastUserCode = null;
// Set by the control API: the next successful token endpoint answer carries this ID token instead (a crafted one,
// for a relying party's validation tests; discovery and JWKS stay the real ones).
let nextIdTokenOverride = null;

function clientMetadata(c) {
  return {
    require_auth_time: true,
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    ...c,
  };
}

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><h1>${title}</h1>${body}</body></html>`;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

// Builds a provider for the current keys. Key rotation builds a new one: the grants, sessions and
// tokens live in oidc-provider's in-memory adapter, which all instances in this process share, so
// they survive it (as they survive key rotation at a real IdP).
function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    clients: (config.clients ?? []).map(clientMetadata),
    jwks: { keys: signingKeys },
    cookies: { keys: cookieKeys },
    scopes: ['openid', 'offline_access', 'email', 'groups'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
    // email and groups go into the ID token itself, as the twofill server reads them there.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    responseTypes: ['code'],
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx, form, _out, err) => {
          const msg = err ? '<p class="error">That code is not valid; enter the code the device shows.</p>' : '';
          ctx.body = page('Enter the code', `${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        userCodeConfirmSource: async (ctx, form, _client, _info, userCode) => {
          ctx.body = page('Confirm the device', `<p>Code <code>${escapeHtml(userCode)}</code></p>${form}`
            + '<button type="submit" form="op.deviceConfirmForm">Continue</button>');
        },
        successSource: async (ctx) => {
          ctx.body = page('Signed in', '<p>The device is signed in; you can close this page.</p>');
        },
      },
      // JWT access tokens for one resource server (config.jwt_access_tokens: its audience), the default
      // resource of every request, so a server under test can validate access tokens as well as ID tokens.
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? config.jwt_access_tokens?.audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          const server = config.jwt_access_tokens;
          if (!server || indicator !== server.audience) throw new errors.InvalidTarget();
          return {
            scope: server.scope ?? 'openid email groups offline_access',
            audience: server.audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ttl.access_token ?? 600,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      revocation: { enabled: true },
      introspection: { enabled: true },
    },
    // A refresh token for every client allowed the grant, lasting its own TTL (not the browser
    // session's), like the common IdPs; `offline_access` is accepted but not required.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    // JWT access tokens carry the account's groups and email too.
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken') return undefined;
      const account = accounts.get(token.accountId);
      return account ? { groups: account.groups, email: account.email ?? undefined } : undefined;
    },
    ttl: {
      AccessToken: ttl.access_token ?? 600,
      IdToken: ttl.id_token ?? 600,
      RefreshToken: ttl.refresh_token ?? 86400,
      DeviceCode: 600,
      Interaction: 600,
      Session: 86400,
      Grant: 86400 * 14,
    },
    findAccount: async (_ctx, id) => {
      const account = accounts.get(id);
      // A disabled account does not exist to the provider: no login, no refresh (invalid_grant).
      if (!account || !account.enabled) return undefined;
      return {
        accountId: account.id,
        claims: async () => ({
          sub: account.id,
          email: account.email ?? undefined,
          email_verified: account.email ? true : undefined,
          groups: account.groups,
        }),
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', Object.entries(out)
        .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: <span id="${escapeHtml(k)}">${escapeHtml(v)}</span></p>`)
        .join(''));
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    if (nextIdTokenOverride !== null && ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: nextIdTokenOverride };
      nextIdTokenOverride = null;
    }
  });
  provider.on('device_authorization.success', (ctx) => {
    lastUserCode = ctx.body?.user_code ?? lastUserCode;
  });
  return provider;
}

function loginForm(uid, error) {
  const msg = error ? `<p class="error" id="error">${escapeHtml(error)}</p>` : '';
  return page('Sign in', `${msg}<form method="post" action="/interaction/${uid}/login">`
    + '<label>Username <input name="login" autocomplete="username" autofocus></label>'
    + '<label>Password <input type="password" name="password" autocomplete="current-password"></label>'
    + '<button type="submit" id="submit">Sign in</button></form>');
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function json(res, status, value) {
  send(res, status, 'application/json', JSON.stringify(value));
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function handleInteraction(provider, req, res, url) {
  const [, , uid, action] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    return send(res, 400, 'text/html', page('Sign-in error', '<p>This sign-in page is stale; start again.</p>'));
  }
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    if (req.method === 'GET') return send(res, 200, 'text/html', loginForm(uid));
    if (req.method === 'POST' && action === 'login') {
      const form = new URLSearchParams(await readBody(req));
      const account = accounts.get(form.get('login') ?? '');
      if (!account || account.password !== form.get('password')) {
        return send(res, 401, 'text/html', loginForm(uid, 'Wrong username or password.'));
      }
      if (!account.enabled) {
        return send(res, 403, 'text/html', loginForm(uid, 'This account is disabled.'));
      }
      return provider.interactionFinished(req, res, { login: { accountId: account.id } }, { mergeWithLastSubmission: false });
    }
  }
  if (prompt.name === 'consent') {
    // Consent is granted without asking: the tests are about twofill, not the consent screen.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return send(res, 400, 'text/html', page('Sign-in error', `<p>Unexpected step ${escapeHtml(prompt.name)}.</p>`));
}

// A compact JWS over `payload`, signed with the newest key for `alg` (RS256 or ES256), its kid in the header;
// `header` adds or overrides header fields (the signature still comes from the real key).
function signWithCurrentKey({ alg = 'RS256', header = {}, payload }) {
  const jwk = signingKeys.find((k) => k.alg === alg);
  if (!jwk) throw new Error(`no signing key for ${alg}; use RS256 or ES256`);
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg, typ: 'JWT', kid: jwk.kid, ...header })}.${encode(payload)}`;
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  const signature = sign('sha256', Buffer.from(input), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${signature.toString('base64url')}`;
}

// The harness's control API:
//   POST /_test/rotate-keys[?keep=true]      new RS256 and ES256 keys (new kids) sign from now on; the old ones
//                                            leave the JWKS unless keep=true. Answers {"kids": [...]} (the JWKS now).
//   POST /_test/accounts                     add an account ({"id","email","password","groups","enabled"}).
//   POST /_test/accounts/ID/disable|enable   a disabled account cannot sign in and its refresh tokens fail.
//   PUT  /_test/accounts/ID/groups           body: a JSON array of group names (the next ID token carries them).
//   GET  /_test/device/last-user-code        {"user_code": ...} of the last device authorization.
//   POST /_test/sign                         {"alg"?, "header"?, "payload"}: {"jwt"} signed with the provider's own key.
//   POST /_test/next-id-token                {"id_token"}: the next token endpoint answer carries it instead.
async function handleTest(state, req, res, url) {
  const parts = url.pathname.split('/').slice(2);
  if (req.method === 'POST' && parts[0] === 'rotate-keys') {
    const fresh = newKeys();
    signingKeys = url.searchParams.get('keep') === 'true' ? [...fresh, ...signingKeys] : fresh;
    setProvider(state, buildProvider(state.issuer));
    return json(res, 200, { kids: signingKeys.map((k) => k.kid) });
  }
  if (parts[0] === 'accounts') {
    if (req.method === 'POST' && parts.length === 1) {
      const account = normalizeAccount(JSON.parse(await readBody(req)));
      accounts.set(account.id, account);
      return json(res, 200, { id: account.id });
    }
    const account = accounts.get(decodeURIComponent(parts[1] ?? ''));
    if (!account) return json(res, 404, { error: `no account ${parts[1]}` });
    if (req.method === 'POST' && (parts[2] === 'disable' || parts[2] === 'enable')) {
      account.enabled = parts[2] === 'enable';
      return json(res, 200, { id: account.id, enabled: account.enabled });
    }
    if (req.method === 'PUT' && parts[2] === 'groups') {
      const groups = JSON.parse(await readBody(req));
      if (!Array.isArray(groups)) return json(res, 400, { error: 'the body must be a JSON array of group names' });
      account.groups = groups.map(String);
      return json(res, 200, { id: account.id, groups: account.groups });
    }
  }
  if (req.method === 'POST' && parts[0] === 'sign') {
    return json(res, 200, { jwt: signWithCurrentKey(JSON.parse(await readBody(req))) });
  }
  if (req.method === 'POST' && parts[0] === 'next-id-token') {
    nextIdTokenOverride = JSON.parse(await readBody(req)).id_token;
    return json(res, 200, { armed: true });
  }
  if (req.method === 'GET' && parts[0] === 'device' && parts[1] === 'last-user-code') {
    return json(res, 200, { user_code: lastUserCode });
  }
  return json(res, 404, { error: `no test route ${req.method} ${url.pathname}` });
}

const state = { issuer: null, provider: null, callback: null };

function setProvider(target, provider) {
  target.provider = provider;
  target.callback = provider.callback();
}
const server = createServer((req, res) => {
  const url = new URL(req.url, state.issuer);
  let handled;
  if (url.pathname.startsWith('/_test/')) handled = handleTest(state, req, res, url);
  else if (url.pathname.startsWith('/interaction/')) handled = handleInteraction(state.provider, req, res, url);
  else return state.callback(req, res);
  handled.catch((err) => {
    console.error(err);
    if (!res.headersSent) send(res, 500, 'text/html', page('Sign-in error', `<p>${escapeHtml(err.message)}</p>`));
  });
});
// The harness holds our stdin open; when it goes (however it ends), so do we.
if (!process.stdin.isTTY) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

server.listen(Number(args.port), '127.0.0.1', () => {
  state.issuer = `http://127.0.0.1:${server.address().port}`;
  phase('listening');
  setProvider(state, buildProvider(state.issuer));
  console.log(`oidc-provider listening on ${state.issuer}`);
});
