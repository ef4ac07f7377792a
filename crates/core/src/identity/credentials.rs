//! Reading the credential a request presents, before any lookup. Pure and total: any header set
//! gives a [`Presented`] or a refusal, never a panic (a property test and a fuzz target hold it
//! to that). A malformed credential (an `Authorization` header without a credential, of an
//! unknown scheme or not visible ASCII; a signed request without all its headers) is `401` with
//! [`CHALLENGE`], as RFC 7235 and docs/CREDENTIALS.md want it; only what is ambiguous —
//! a repeated header, two credentials at once — is `400`.
//!
//! **The session cookie** is `__Host-kg_session` ([`HOST_SESSION_COOKIE`]) wherever keygate is
//! served over https, `kg_session` ([`SESSION_COOKIE`]) only where it is served over plain http
//! (the local server on an http issuer, where a browser refuses `__Host-` cookies). The
//! `__Host-` prefix is what makes the cookie keygate's own: a browser takes it only from this
//! very host, `Secure`, `Path=/`, without `Domain`, so no sibling host can toss one in (a tossed
//! `kg_session` would otherwise make every cookie-carrying request ambiguous, or fix a session).
//! Which of the two is read and set is the deployment's fact, never the client's choice: see
//! [`over_https`] and [`crate::kernel::config::Config::serves_https`].

use http::HeaderMap;

use crate::kernel::error::{ApiError, ApiResult};

/// The session cookie's name over plain http (the local server on an http issuer).
pub const SESSION_COOKIE: &str = "kg_session";

/// The session cookie's name wherever keygate is served over https.
pub const HOST_SESSION_COOKIE: &str = "__Host-kg_session";

/// The `WWW-Authenticate` challenge of a `401` from the shared authenticator (RFC 7235 §4.1):
/// the `Authorization` schemes it takes — an API key as `Basic`, a token as `Bearer`, a
/// DPoP-bound token as `DPoP` with its proof (RFC 9449 §7.1).
pub const CHALLENGE: &str =
    "Basic realm=\"keygate\", Bearer realm=\"keygate\", DPoP realm=\"keygate\", algs=\"ES256 EdDSA Ed25519\"";

/// Whether a request reached keygate over https, as the front door that terminated the
/// connection says in `X-Forwarded-Proto`: API Gateway always sends `https`, and the local API
/// server sends the scheme of its own issuer ([`crate::kernel::config::Config::serves_https`]),
/// replacing whatever a client sent. So in every deployment this is the configured public base
/// URL's scheme — the fact [`crate::kernel::config::Config::issuer_for`] builds URLs from — and the
/// cookie read here is the one [`set_session_cookie`] set. Only a header that names `http` and
/// nothing else makes a request plain http: a request that says nothing (a direct invocation, a
/// test) gets the strict `__Host-` name, never the one a sibling host could toss. (The
/// configured issuer itself cannot be read here — the callers have the headers only — and a
/// client that forges `X-Forwarded-Proto` changes only how its own request is read: a browser
/// never sends one.)
pub fn over_https(headers: &HeaderMap) -> bool {
    let mut protos = headers
        .get_all("x-forwarded-proto")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("https").split(','))
        .map(str::trim)
        .peekable();
    protos.peek().is_none() || !protos.all(|p| p.eq_ignore_ascii_case("http"))
}

/// The session cookie's name over https or plain http.
pub fn session_cookie_name(https: bool) -> &'static str {
    if https {
        HOST_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The `Set-Cookie` value of a session: over https `__Host-kg_session=…; Path=/; Max-Age=…;
/// HttpOnly; Secure; SameSite=Lax` (no `Domain`, as the prefix requires); over plain http
/// `kg_session=…` with the same attributes except `Secure` (a browser drops a `Secure` cookie
/// set over plain http).
pub fn set_session_cookie(https: bool, value: &str, max_age: i64) -> String {
    format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly{}; SameSite=Lax",
        session_cookie_name(https),
        if https { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that clears the session cookie (sign-out): the name and attributes it
/// was set with, expired.
pub fn clear_session_cookie(https: bool) -> String {
    set_session_cookie(https, "", 0)
}

/// The signed-request headers, still unchecked. `Debug` shows the key id, date and nonce (none
/// is secret: they travel in clear and the nonce is single use), never the signature or token.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub api_key: String,
    pub date: String,
    pub nonce: String,
    pub signature: String,
    pub bearer: Option<String>,
    pub referer: Option<String>,
}

impl std::fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedHeaders")
            .field("api_key", &self.api_key)
            .field("date", &self.date)
            .field("nonce", &self.nonce)
            .field("signature", &"***")
            .field("bearer", &self.bearer.as_ref().map(|_| "***"))
            .field("referer", &self.referer)
            .finish()
    }
}

/// The one credential a request carries. `Debug` prints `***` for every credential value.
#[derive(Clone, PartialEq, Eq)]
pub enum Presented {
    None,
    /// `Authorization: Basic <api key>`.
    ApiKey(String),
    /// `Authorization: Bearer <jwt>`.
    Bearer(String),
    /// `Authorization: DPoP <jwt>` (RFC 9449 §7.1), with its proof in the `DPoP` header.
    Dpop(String),
    /// The session cookie.
    Session(String),
    /// `X-CUSTOM-*` headers (with their `Bearer` token).
    Signed(SignedHeaders),
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Presented::None => f.write_str("None"),
            Presented::ApiKey(_) => f.write_str("ApiKey(***)"),
            Presented::Bearer(_) => f.write_str("Bearer(***)"),
            Presented::Dpop(_) => f.write_str("Dpop(***)"),
            Presented::Session(_) => f.write_str("Session(***)"),
            Presented::Signed(h) => f.debug_tuple("Signed").field(h).finish(),
        }
    }
}

/// A credential of a malformed form: `401` with the authenticator's challenge (never `400`,
/// docs/CREDENTIALS.md: it is a credential that does not authenticate).
fn malformed(reason: &'static str, msg: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::unauthorized(reason, msg).with_challenge(CHALLENGE)
}

/// Two credentials, or one header twice: which one was meant cannot be told (`400`).
fn ambiguous(reason: &'static str, msg: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::bad_request(reason, msg)
}

/// The single value of a credential header; a repeated header is ambiguous (`400`), one that is
/// not visible ASCII (`obs-text`, which `Authorization` never carries) malformed (`401`).
fn single<'h>(headers: &'h HeaderMap, name: &str) -> ApiResult<Option<&'h str>> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ambiguous(
            "header_repeated",
            format!("the {name} header is repeated"),
        ));
    }
    first.to_str().map(|v| Some(v.trim())).map_err(|_| {
        malformed(
            "header_not_ascii",
            format!("the {name} header is not visible ASCII"),
        )
    })
}

/// The session cookie's value (see the module's documentation): over https the first
/// `__Host-kg_session`, over plain http the first `kg_session`, whose value has a session's
/// shape (43 base64url characters). The other name, and a value of another shape, are not a
/// session: ignored, as the other cookies are, so junk a sibling host tossed in (or a stale
/// cookie of the other name) never makes a request fail or stand for a session it did not open.
pub fn session_cookie_value(headers: &HeaderMap) -> Option<String> {
    let name = session_cookie_name(over_https(headers));
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|text| text.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
        .find(|v| crate::kernel::crypto::looks_like_secret(v))
        .map(str::to_owned)
}

/// Reads the credential. Two different credentials at once, or a repeated header, is a `400`;
/// a malformed `Authorization` (no credential after the scheme, an unknown scheme, not visible
/// ASCII) or an incomplete signed request is a `401` with [`CHALLENGE`].
/// Long because every combination of headers has its own answer, in one place a reader (and the
/// property test and fuzz target) can check.
pub fn extract(headers: &HeaderMap) -> ApiResult<Presented> {
    let authorization = single(headers, "authorization")?;
    let signed_key = single(headers, "x-custom-api-key")?;
    let cookie = session_cookie_value(headers);

    let mut bearer = None;
    let mut dpop = None;
    let mut basic = None;
    if let Some(auth) = authorization {
        let (scheme, rest) = auth.split_once(' ').unwrap_or((auth, ""));
        let rest = rest.trim();
        if rest.is_empty() {
            return Err(malformed(
                "authorization_malformed",
                "the Authorization header has no credential",
            ));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            basic = Some(rest.to_owned());
        } else if scheme.eq_ignore_ascii_case("bearer") {
            bearer = Some(rest.to_owned());
        } else if scheme.eq_ignore_ascii_case("dpop") {
            dpop = Some(rest.to_owned());
        } else {
            return Err(malformed(
                "authorization_scheme",
                "the Authorization scheme must be Basic, Bearer or DPoP",
            ));
        }
    }

    if let Some(api_key) = signed_key {
        if basic.is_some() || cookie.is_some() || dpop.is_some() {
            return Err(ambiguous(
                "credentials_ambiguous",
                "a signed request must not carry another credential",
            ));
        }
        let need = |name: &'static str| -> ApiResult<String> {
            single(headers, name)?.map(str::to_owned).ok_or_else(|| {
                malformed(
                    "signed_header_missing",
                    format!("a signed request needs the {name} header"),
                )
            })
        };
        return Ok(Presented::Signed(SignedHeaders {
            api_key: api_key.to_owned(),
            date: need("x-custom-date")?,
            nonce: need("x-custom-nonce")?,
            signature: need("x-custom-signature")?,
            bearer,
            referer: single(headers, "referer")?.map(str::to_owned),
        }));
    }
    for name in ["x-custom-date", "x-custom-nonce", "x-custom-signature"] {
        if headers.contains_key(name) {
            return Err(malformed(
                "signed_header_missing",
                "a signed request needs the x-custom-api-key header",
            ));
        }
    }

    if let Some(t) = dpop {
        return match cookie {
            None => Ok(Presented::Dpop(t)),
            Some(_) => Err(ambiguous(
                "credentials_ambiguous",
                "send one credential: an Authorization header or the session cookie, not both",
            )),
        };
    }
    match (basic, bearer, cookie) {
        (None, None, None) => Ok(Presented::None),
        (Some(k), None, None) => Ok(Presented::ApiKey(k)),
        (None, Some(t), None) => Ok(Presented::Bearer(t)),
        (None, None, Some(c)) => Ok(Presented::Session(c)),
        _ => Err(ambiguous(
            "credentials_ambiguous",
            "send one credential: an Authorization header or the session cookie, not both",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    /// A value of a session's shape (43 base64url characters), distinct per `c`.
    fn session(c: char) -> String {
        std::iter::repeat_n(c, 43).collect()
    }

    #[test]
    fn each_kind_is_read() {
        assert_eq!(extract(&h(&[])).unwrap(), Presented::None);
        assert_eq!(
            extract(&h(&[("authorization", "Basic abc")])).unwrap(),
            Presented::ApiKey("abc".into())
        );
        assert_eq!(
            extract(&h(&[("authorization", "bearer t.t.t")])).unwrap(),
            Presented::Bearer("t.t.t".into())
        );
        assert_eq!(
            extract(&h(&[("authorization", "DPoP t.t.t"), ("dpop", "p.p.p")])).unwrap(),
            Presented::Dpop("t.t.t".into())
        );
        let v = session('s');
        assert_eq!(
            extract(&h(&[("cookie", &format!("a=b; __Host-kg_session={v}"))])).unwrap(),
            Presented::Session(v.clone())
        );
        assert_eq!(
            extract(&h(&[
                ("x-forwarded-proto", "http"),
                ("cookie", &format!("a=b; kg_session={v}"))
            ]))
            .unwrap(),
            Presented::Session(v)
        );
        let s = extract(&h(&[
            ("x-custom-api-key", "k"),
            ("x-custom-date", "1"),
            ("x-custom-nonce", "n"),
            ("x-custom-signature", "s"),
            ("authorization", "Bearer j"),
        ]))
        .unwrap();
        assert!(matches!(
            s,
            Presented::Signed(SignedHeaders {
                bearer: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn debug_never_shows_a_credential() {
        for p in [
            Presented::ApiKey("k3y-value".into()),
            Presented::Bearer("k3y-value".into()),
            Presented::Dpop("k3y-value".into()),
            Presented::Session("k3y-value".into()),
            Presented::Signed(SignedHeaders {
                api_key: "oc_x".into(),
                date: "1".into(),
                nonce: "n".into(),
                signature: "k3y-value".into(),
                bearer: Some("k3y-value".into()),
                referer: None,
            }),
        ] {
            let shown = format!("{p:?}");
            assert!(
                !shown.contains("k3y-value") && shown.contains("***"),
                "{shown}"
            );
        }
    }

    #[test]
    fn ambiguity_and_repetition_are_400() {
        let cookie = format!("__Host-kg_session={}", session('x'));
        for headers in [
            h(&[("authorization", "Basic a"), ("authorization", "Basic b")]),
            h(&[("authorization", "Basic a"), ("cookie", &cookie)]),
            h(&[("authorization", "DPoP t"), ("cookie", &cookie)]),
            h(&[
                ("x-custom-api-key", "k"),
                ("x-custom-date", "1"),
                ("x-custom-nonce", "n"),
                ("x-custom-signature", "s"),
                ("authorization", "DPoP j"),
            ]),
            h(&[
                ("x-custom-api-key", "k"),
                ("x-custom-date", "1"),
                ("x-custom-nonce", "n"),
                ("x-custom-nonce", "m"),
                ("x-custom-signature", "s"),
            ]),
        ] {
            let e = extract(&headers).unwrap_err();
            assert_eq!(e.status(), 400, "{headers:?}");
        }
    }

    /// RFC 7235 §3.1 and docs/CREDENTIALS.md: a malformed `Authorization` (or an incomplete signed
    /// request) does not authenticate — `401` naming the schemes, never `400`.
    #[test]
    fn a_malformed_credential_is_401_with_a_challenge() {
        let long = format!("Basic {}", "A".repeat(10 * 1024));
        let unscheme = "X".repeat(10 * 1024);
        let mut cases: Vec<HeaderMap> = [
            "",
            "Basic",
            "Basic   ",
            "Bearer",
            "DPoP",
            "Digest username=\"a\"",
            "Negotiate abc",
            "garbage",
            unscheme.as_str(),
        ]
        .iter()
        .map(|v| h(&[("authorization", v)]))
        .collect();
        cases.push(h(&[("x-custom-nonce", "n")]));
        cases.push(h(&[("x-custom-api-key", "k"), ("x-custom-date", "1")]));
        let mut non_ascii = HeaderMap::new();
        non_ascii.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Basic \xff\xfe\x80").unwrap(),
        );
        cases.push(non_ascii);
        for headers in &cases {
            let e = extract(headers).unwrap_err();
            assert_eq!(e.status(), 401, "{headers:?}");
            assert_eq!(e.challenge, Some(CHALLENGE), "{headers:?}");
        }
        // A long or garbage Basic value is read, and refused by the lookup (`api_key_unknown`).
        assert!(matches!(
            extract(&h(&[("authorization", &long)])),
            Ok(Presented::ApiKey(_))
        ));
    }

    #[test]
    fn https_is_what_the_front_door_says_and_strict_by_default() {
        assert!(over_https(&h(&[])));
        assert!(over_https(&h(&[("x-forwarded-proto", "https")])));
        assert!(!over_https(&h(&[("x-forwarded-proto", "http")])));
        assert!(!over_https(&h(&[("x-forwarded-proto", " HTTP ")])));
        // Anything but a plain `http` (a chain through https, junk, empty) is https.
        for v in ["http, https", "https, http", "", "ftp"] {
            assert!(over_https(&h(&[("x-forwarded-proto", v)])), "{v:?}");
        }
        assert!(over_https(&h(&[
            ("x-forwarded-proto", "http"),
            ("x-forwarded-proto", "https")
        ])));
    }

    /// Over https only `__Host-kg_session` is a session: a tossed or stale `kg_session` is
    /// ignored and never fails the request (not even next to an `Authorization` header).
    #[test]
    fn over_https_only_the_host_cookie_is_read() {
        let (real, tossed) = (session('r'), session('t'));
        let both = format!("kg_session={tossed}; __Host-kg_session={real}");
        assert_eq!(
            session_cookie_value(&h(&[("cookie", &both)])),
            Some(real.clone())
        );
        assert_eq!(
            extract(&h(&[("cookie", &both)])).unwrap(),
            Presented::Session(real.clone())
        );
        let tossed_only = format!("kg_session={tossed}");
        assert_eq!(session_cookie_value(&h(&[("cookie", &tossed_only)])), None);
        assert_eq!(
            extract(&h(&[
                ("authorization", "Basic k3y"),
                ("cookie", &tossed_only)
            ]))
            .unwrap(),
            Presented::ApiKey("k3y".into())
        );
        // Two `__Host-` cookies (only a client can send that): the first of a session's shape.
        let two =
            format!("__Host-kg_session=junk; __Host-kg_session={real}; __Host-kg_session={tossed}");
        assert_eq!(session_cookie_value(&h(&[("cookie", &two)])), Some(real));
    }

    /// Over plain http the plain name, and still never junk: a `kg_session=garbage` next to the
    /// real cookie (in any order, in one `Cookie` header or two) picks the real one, and junk
    /// alone next to an API key is no second credential.
    #[test]
    fn over_http_the_plain_cookie_is_read_and_junk_ignored() {
        let real = session('r');
        let http = ("x-forwarded-proto", "http");
        for cookies in [
            vec![format!("kg_session=garbage; kg_session={real}")],
            vec![format!("kg_session={real}; kg_session=garbage")],
            vec![
                "kg_session=garbage".to_owned(),
                format!("a=1; kg_session={real}"),
            ],
            vec![format!(
                "kg_sessionx=1; kg_session={real}; __Host-kg_session={}",
                session('h')
            )],
        ] {
            let mut pairs = vec![http];
            pairs.extend(cookies.iter().map(|c| ("cookie", c.as_str())));
            let headers = h(&pairs);
            assert_eq!(
                session_cookie_value(&headers),
                Some(real.clone()),
                "{cookies:?}"
            );
            assert_eq!(
                extract(&headers).unwrap(),
                Presented::Session(real.clone()),
                "{cookies:?}"
            );
        }
        let junk = h(&[
            http,
            ("authorization", "Basic k3y"),
            ("cookie", "kg_session=garbage; kg_session="),
        ]);
        assert_eq!(extract(&junk).unwrap(), Presented::ApiKey("k3y".into()));
    }

    #[test]
    fn set_and_clear_carry_the_prefix_only_over_https() {
        let set = set_session_cookie(true, "v", 60);
        assert_eq!(
            set,
            "__Host-kg_session=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
        );
        assert!(!set.to_ascii_lowercase().contains("domain"));
        assert_eq!(
            set_session_cookie(false, "v", 60),
            "kg_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        assert!(clear_session_cookie(true).starts_with("__Host-kg_session=; Path=/; Max-Age=0;"));
        assert!(clear_session_cookie(false).starts_with("kg_session=; Path=/; Max-Age=0;"));
    }
}
