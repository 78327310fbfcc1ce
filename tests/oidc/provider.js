// A local OpenID provider for the gateway's sign-in tests: oidc-provider on 127.0.0.1, port 0.
//
//   node tests/oidc/provider.js [--redirect-uri URI]... [--user NAME=ROLE,ROLE]...
//
// prints one line of JSON once it listens: {"issuer": "http://127.0.0.1:PORT", "port": PORT, "redirect_uris": [...],
// "users": {...}, ...}, then serves until stdin closes or SIGTERM.
//
// The test client `airlock` (secret below) uses the Authorization Code flow with PKCE. Its redirect URIs:
// http://127.0.0.1/airlock/callback (which nothing needs to serve: a test reads the code from the redirect),
// plus every --redirect-uri (repeatable; or AIRLOCK_OIDC_REDIRECT_URIS, separated by spaces or commas), e.g. a
// gateway's http://127.0.0.1:PORT/auth/callback.
//
// Test users: alice (researcher), bob (researcher; data-approver as a client role of `airlock`), carol
// (data-approver; output-checker as a client role), gina (governance-lead); --user NAME=ROLE,ROLE adds a user
// or replaces one's realm roles. Sign-in: with a `login_hint` naming a test user, the interaction signs that
// user in and grants what was asked without any page, so a test can follow the redirects with a plain HTTP
// client. Without one, the provider shows a minimal login form (a labelled "Username" field and a "Sign in"
// button, POSTed to /interaction/UID/login) that a browser fills in; consent is always granted.
//
// ID tokens are RS256; access tokens for the resource "urn:airlock" are JWTs signed ES256 with aud "airlock",
// realm_access and resource_access claims as Keycloak sends them.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const users = {
  alice: { name: 'Alice Researcher', email: 'alice@example.org', realm: ['researcher'], client: [] },
  bob: { name: 'Bob Approver', email: 'bob@example.org', realm: ['researcher'], client: ['data-approver'] },
  carol: { name: 'Carol Checker', email: 'carol@example.org', realm: ['data-approver'], client: ['output-checker'] },
  gina: { name: 'Gina Governance', email: 'gina@example.org', realm: ['governance-lead'], client: [] },
};
const clientId = 'airlock';
const clientSecret = 'airlock-test-secret-0123456789abcdef';
const redirectUri = 'http://127.0.0.1/airlock/callback';
const resource = 'urn:airlock';

// Command line: --redirect-uri URI (repeatable), --user NAME=ROLE,ROLE (repeatable).
const redirectUris = [redirectUri];
for (const uri of (process.env.AIRLOCK_OIDC_REDIRECT_URIS || '').split(/[\s,]+/)) {
  if (uri) redirectUris.push(uri);
}
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 1) {
  // --flag VALUE or --flag=VALUE
  const equals = args[i].indexOf('=');
  const flag = args[i].startsWith('--') && equals > 0 ? args[i].slice(0, equals) : args[i];
  const value = flag === args[i] ? args[(i += 1)] : args[i].slice(equals + 1);
  if (value === undefined) throw new Error(`${flag} needs a value`);
  if (flag === '--redirect-uri') {
    redirectUris.push(value);
  } else if (flag === '--user') {
    const [name, roles = ''] = value.split('=');
    if (!/^[a-z][a-z0-9._-]*$/.test(name)) throw new Error(`--user ${value}: expected NAME=ROLE,ROLE`);
    const realm = roles.split(',').filter(Boolean);
    users[name] = users[name] ? { ...users[name], realm } : {
      name: name[0].toUpperCase() + name.slice(1), email: `${name}@example.org`, realm, client: [],
    };
  } else {
    throw new Error(`unknown argument ${args[i]} (use --redirect-uri URI, --user NAME=ROLE,ROLE)`);
  }
}

function roleClaims(accountId) {
  const user = users[accountId];
  return {
    realm_access: { roles: user.realm },
    resource_access: { [clientId]: { roles: user.client } },
  };
}

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

// The login page a browser sees when no login_hint names the user.
function loginPage(uid, message) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - test provider</title></head>
<body>
<main>
<h1>Sign in to the test provider</h1>
${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autofocus required>
<button type="submit">Sign in</button>
</form>
<p>Test users: ${Object.keys(users).map(escapeHtml).join(', ')}</p>
</main>
</body></html>
`;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 10000) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

const jwk = (key, kid) => ({ ...key.export({ format: 'jwk' }), kid });
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [jwk(rsa, 'test-rsa'), jwk(ec, 'test-ec')] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email'],
      roles: ['realm_access', 'resource_access'],
    },
    scopes: ['openid', 'profile', 'email', 'roles', 'api'],
    conformIdTokenClaims: false,  // put the scopes' claims in the ID token, as Keycloak does
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api',
          audience: 'airlock',
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    async findAccount(ctx, id) {
      if (!users[id]) return undefined;
      return {
        accountId: id,
        async claims() {
          const user = users[id];
          return { sub: id, name: user.name, preferred_username: id, email: user.email, ...roleClaims(id) };
        },
      };
    },
    extraTokenClaims(ctx, token) {
      if (!token.accountId || !users[token.accountId]) return undefined;
      return { azp: token.clientId, preferred_username: token.accountId, ...roleClaims(token.accountId) };
    },
    renderError(ctx, out) {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  });

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    if (!req.url.startsWith('/interaction/')) {
      callback(req, res);
      return;
    }
    try {
      const details = await provider.interactionDetails(req, res);
      const { prompt, params, session } = details;
      if (prompt.name === 'login') {
        let login = params.login_hint;
        if (req.method === 'POST' && req.url === `/interaction/${details.uid}/login`) {
          login = (await readForm(req)).get('username') || '';
          if (!users[login]) {
            res.statusCode = 400;
            res.setHeader('Content-Type', 'text/html; charset=utf-8');
            res.end(loginPage(details.uid, `Unknown user "${login}".`));
            return;
          }
        } else if (!login) {
          res.setHeader('Content-Type', 'text/html; charset=utf-8');
          res.setHeader('Cache-Control', 'no-store');
          res.end(loginPage(details.uid, ''));
          return;
        }
        if (!users[login]) {
          res.statusCode = 400;
          res.end(`unknown test user ${login}`);
          return;
        }
        await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
        return;
      }
      // consent: grant what the client asked for.
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const missing = prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  });

  const userRoles = Object.fromEntries(Object.entries(users).map(([id, user]) => [id, [...user.realm, ...user.client]]));
  process.stdout.write(`${JSON.stringify({
    issuer, port, client_id: clientId, client_secret: clientSecret, redirect_uri: redirectUri, redirect_uris: redirectUris, users: userRoles,
  })}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
