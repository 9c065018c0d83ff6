// A real OpenID Connect provider for the sign-in tests (tests/test_oidc.py): node-oidc-provider (OpenID Certified),
// on 127.0.0.1 only, on a port the OS picks. Discovery, the authorization code flow with PKCE, a JWKS with a fresh
// RSA key, RS256-signed ID tokens, RP-initiated logout: everything Streamlit's st.login (Authlib) uses.
//
//   node tests/oidc/provider.mjs   (settings in the environment, see below)
//
// Environment: OIDC_REDIRECT_URI (the app's .../oauth2callback, also its post-logout URI), OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET. Prints one line of JSON, {"issuer": "http://127.0.0.1:PORT"}, once it listens; stops on
// SIGTERM/SIGINT or when its stdin closes (so it never outlives the test that started it).
//
// The sign-in form is oidc-provider's development interaction (any password); the login names one of ACCOUNTS.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {  // before the import, which would fail with something cryptic (jose needs the global WebCrypto)
  console.error(`provider.mjs: oidc-provider 9 needs Node.js 20 or later, this is ${process.versions.node}`);
  process.exit(2);
}
const { default: Provider } = await import('oidc-provider');

// Who can sign in. "impostor" uses the instructor's address but the provider has not verified it (a provider that
// lets a user type any e-mail): the app must treat them as a student.
const ACCOUNTS = {
  student: { email: 'student@uni.test', email_verified: true, name: 'Stu Dent' },
  instructor: { email: 'prof@uni.test', email_verified: true, name: 'Prof. Smith' },
  impostor: { email: 'prof@uni.test', email_verified: false, name: 'Prof. Smith' },
};

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: set ${name}`);
    process.exit(2);
  }
  return value;
};

const redirectUri = env('OIDC_REDIRECT_URI');
const clientId = env('OIDC_CLIENT_ID');
const clientSecret = env('OIDC_CLIENT_SECRET');
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

const configuration = {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // The claims go into the ID token itself, as Google, Entra ID and Keycloak put them: Streamlit reads the ID token
  // only, never the userinfo endpoint.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  // A first-party app of the university: no consent screen, the grant is given at sign-in.
  async loadExistingGrant(ctx) {
    const { accountId } = ctx.oidc.session;
    const grant = (ctx.oidc.result?.consent?.grantId && await ctx.oidc.provider.Grant.find(ctx.oidc.result.consent.grantId))
      || new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) {
      return undefined;
    }
    return { accountId: id, claims: async () => ({ sub: id, ...account }) };
  },
};

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();  // keep-alive connections of the browser would hold close() open
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
