// keygate against a certified client: panva's oauth4webapi (OpenID Certified for FAPI 2.0),
// unchanged, pinned in infra/local/common.sh and installed by infra/interop/install.sh. Run by
// tests/tests/it/interop.rs, which starts keygate and answers the one step a browser takes (the
// consent page); on its own it needs the same environment:
//   OAUTH4WEBAPI     path of the library's build/index.js
//   KEYGATE_ISSUER   keygate's issuer identifier (its base URL; plain http on loopback only)
//   KEYGATE_API_KEY  the API key of an account's owner, the account on OAUTH2
//
// For each algorithm (ES256, and Ed25519 by its fully-specified name) it registers two clients
// through keygate's API, each with its public key inline (private_key_jwt), and runs:
//   1. client credentials, authenticated with a client assertion; the token used, introspected,
//      revoked (every client-authenticated endpoint takes the assertion);
//   2. the whole FAPI 2.0 flow of a `fapi2` client that requires DPoP server nonces: a pushed
//      authorization request with a DPoP proof (retried with the server's nonce, as the library
//      documents), the browser's consent (asked of the test on stdout as
//      {"authorize": url}, answered on stdin as {"callback": url}), the code exchanged with
//      PKCE and a proof, the DPoP-bound token used, refreshed (the same refresh token back: no
//      rotation under fapi2), and the new token used.
// It prints {"ok": true, ...} and exits 0, or prints why on stderr and exits 1.

import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'

const oauth = await import(pathToFileURL(process.env.OAUTH4WEBAPI).href)
const issuer = new URL(process.env.KEYGATE_ISSUER)
const apiKey = process.env.KEYGATE_API_KEY
const insecure = { [oauth.allowInsecureRequests]: true }
const redirectUri = 'https://portal.example/cb'

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
async function ask(question) {
  process.stdout.write(JSON.stringify(question) + '\n')
  const { value, done } = await lines.next()
  if (done) throw new Error(`no answer to ${JSON.stringify(question)}`)
  return JSON.parse(value)
}

function check(condition, what) {
  if (!condition) throw new Error(`failed: ${what}`)
}

/** Registers an OAuth client with keygate's API, its public key inline: its client id. */
async function register(body) {
  const response = await fetch(new URL('/api/oauth2/clients', issuer), {
    method: 'POST',
    headers: { authorization: `Basic ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const created = await response.json()
  check(response.status === 201, `client created: ${JSON.stringify(created)}`)
  check(created.clientSecret === undefined, 'a client with keys has no secret')
  return created.client_id ?? created.clientId
}

/** A key pair of `alg` and its public JWK (with `kid`). */
async function keyPair(alg, kid) {
  const pair = await oauth.generateKeyPair(alg)
  const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey)
  return { pair, jwk: { ...jwk, kid, use: 'sig' } }
}

/** Runs `call`, once more when keygate asks for a DPoP nonce (the library caches it). */
async function withNonce(call) {
  try {
    return await call()
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return call()
    throw err
  }
}

async function whoami(accessToken, dpop) {
  const response = await oauth.protectedResourceRequest(
    accessToken, 'GET', new URL('/api/whoami', issuer), new Headers(), null,
    { ...insecure, DPoP: dpop },
  )
  check(response.status === 200, `whoami answers 200 (got ${response.status})`)
  return response.json()
}

async function main() {
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }),
  )
  check(as.token_endpoint_auth_methods_supported.includes('private_key_jwt'), 'private_key_jwt advertised')

  const results = {}
  for (const alg of ['ES256', 'Ed25519']) {
    check(as.token_endpoint_auth_signing_alg_values_supported.includes(alg), `${alg} advertised for assertions`)
    check(as.dpop_signing_alg_values_supported.includes(alg === 'ES256' ? 'ES256' : 'Ed25519'), `${alg} advertised for DPoP`)

    // 1. Client credentials with private_key_jwt.
    const standard = await keyPair(alg, `cc-${alg}`)
    const ccClient = {
      client_id: await register({
        name: `interop ${alg}`, scopes: ['Basic'],
        tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [standard.jwk] },
      }),
    }
    const ccAuth = oauth.PrivateKeyJwt({ key: standard.pair.privateKey, kid: standard.jwk.kid })
    const cc = await oauth.processClientCredentialsResponse(as, ccClient,
      await oauth.clientCredentialsGrantRequest(as, ccClient, ccAuth, new URLSearchParams({ scope: 'Basic' }), insecure))
    check(cc.token_type === 'bearer', `client credentials: a bearer token (${cc.token_type})`)
    const me = await whoami(cc.access_token)
    check(me.clientId === ccClient.client_id, 'the token is the client\'s')
    const seen = await oauth.processIntrospectionResponse(as, ccClient,
      await oauth.introspectionRequest(as, ccClient, ccAuth, cc.access_token, insecure))
    check(seen.active === true, 'introspected: active')
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, ccClient, ccAuth, cc.access_token, insecure))
    const after = await oauth.processIntrospectionResponse(as, ccClient,
      await oauth.introspectionRequest(as, ccClient, ccAuth, cc.access_token, insecure))
    check(after.active === false, 'revoked: inactive')

    // 2. The FAPI 2.0 flow: PAR + code + PKCE + DPoP (with server nonces) + refresh.
    const bank = await keyPair(alg, `fapi2-${alg}`)
    const client = {
      client_id: await register({
        name: `interop fapi2 ${alg}`, scopes: ['Basic'], redirectUris: [redirectUri],
        profile: 'fapi2', requireDpopNonce: true,
        tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [bank.jwk] },
      }),
    }
    const clientAuth = oauth.PrivateKeyJwt({ key: bank.pair.privateKey, kid: bank.jwk.kid })
    const dpop = oauth.DPoP(client, await oauth.generateKeyPair(alg, { extractable: false }))
    const verifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const pushed = await withNonce(async () => oauth.processPushedAuthorizationResponse(as, client,
      await oauth.pushedAuthorizationRequest(as, client, clientAuth, {
        response_type: 'code', redirect_uri: redirectUri, scope: 'Basic', state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      }, { ...insecure, DPoP: dpop })))
    check(pushed.expires_in <= 60, 'a request_uri lives a minute at most')
    const authorize = new URL(as.authorization_endpoint)
    authorize.searchParams.set('client_id', client.client_id)
    authorize.searchParams.set('request_uri', pushed.request_uri)
    const { callback } = await ask({ authorize: authorize.href })
    const params = oauth.validateAuthResponse(as, client, new URL(callback), state)
    const tokens = await withNonce(async () => oauth.processAuthorizationCodeResponse(as, client,
      await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, verifier,
        { ...insecure, DPoP: dpop })))
    check(tokens.token_type === 'dpop', `a DPoP-bound token (${tokens.token_type})`)
    check(typeof tokens.refresh_token === 'string', 'a refresh token')
    const user = await whoami(tokens.access_token, dpop)
    check(user.authMethod === 'DPOP', `used with its proof (${user.authMethod})`)
    const refreshed = await withNonce(async () => oauth.processRefreshTokenResponse(as, client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token,
        { ...insecure, DPoP: dpop })))
    check(refreshed.token_type === 'dpop', 'refreshed: DPoP-bound')
    check(refreshed.refresh_token === tokens.refresh_token, 'fapi2: the refresh token is not rotated')
    const again = await whoami(refreshed.access_token, dpop)
    check(again.clientId === client.client_id, 'the refreshed token is the client\'s')
    results[alg] = { clientCredentials: ccClient.client_id, fapi2: client.client_id }
  }

  return results
}

try {
  const results = await main()
  process.stdout.write(JSON.stringify({ ok: true, results }) + '\n')
  process.exit(0)
} catch (err) {
  // What the library saw: its error code, the server's OAuth error, the response's status.
  const detail = { name: err?.name, message: err?.message, code: err?.code, error: err?.error,
    error_description: err?.error_description, status: err?.status, cause: err?.cause }
  process.stderr.write(`oauth4webapi interop failed: ${JSON.stringify(detail)}\n${err?.stack ?? ''}\n`)
  process.exit(1)
}
