// A local OpenID provider for the gateway's sign-in tests: oidc-provider on 127.0.0.1, port 0.
//
//   node tests/oidc/provider.js
//
// prints one line of JSON once it listens: {"issuer": "http://127.0.0.1:PORT", "port": PORT, ...}, then serves
// until stdin closes or SIGTERM. The test client `airlock` (secret below, redirect URI
// http://127.0.0.1/airlock/callback, which nothing needs to serve: the test reads the code from the redirect)
// uses the Authorization Code flow with PKCE. Its interactions sign in the user named by `login_hint` (one of
// the test users) and grant what was asked, without a form, so a test can follow the redirects with a plain
// HTTP client. ID tokens are RS256; access tokens for the resource "urn:airlock" are JWTs signed ES256 with
// aud "airlock", realm_access and resource_access claims as Keycloak sends them.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const users = {
  alice: { name: 'Alice Researcher', email: 'alice@example.org', realm: ['researcher'], client: [] },
  bob: { name: 'Bob Approver', email: 'bob@example.org', realm: ['researcher'], client: ['data-approver'] },
};
const clientId = 'airlock';
const clientSecret = 'airlock-test-secret-0123456789abcdef';
const redirectUri = 'http://127.0.0.1/airlock/callback';
const resource = 'urn:airlock';

function roleClaims(accountId) {
  const user = users[accountId];
  return {
    realm_access: { roles: user.realm },
    resource_access: { [clientId]: { roles: user.client } },
  };
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
      redirect_uris: [redirectUri],
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
        const login = params.login_hint;
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

  process.stdout.write(`${JSON.stringify({ issuer, port, client_id: clientId, client_secret: clientSecret, redirect_uri: redirectUri })}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
