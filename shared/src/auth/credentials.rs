//! Reading the credential a request presents, before any lookup. Pure and total: any header set
//! gives a [`Presented`] or a `400`, never a panic (a property test and a fuzz target hold it to
//! that).

use http::HeaderMap;

use crate::error::{ApiError, ApiResult};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kg_session";

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

fn malformed(reason: &'static str, msg: &'static str) -> ApiError {
    ApiError::bad_request(reason, msg)
}

/// The single value of a header; a repeated header is refused.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> ApiResult<Option<&'h str>> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "header_repeated",
            format!("the {name} header is repeated"),
        ));
    }
    first.to_str().map(|v| Some(v.trim())).map_err(|_| {
        ApiError::bad_request(
            "header_not_ascii",
            format!("the {name} header is not visible ASCII"),
        )
    })
}

/// The session cookie's value, if the request carries exactly one readable `kg_session`.
pub fn session_cookie_value(headers: &HeaderMap) -> Option<String> {
    session_cookie(headers).ok().flatten()
}

fn session_cookie(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let mut found: Option<String> = None;
    for value in headers.get_all(http::header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, v)) = pair.trim().split_once('=') {
                if name == SESSION_COOKIE {
                    if found.is_some() {
                        return Err(malformed(
                            "cookie_repeated",
                            "the session cookie is repeated",
                        ));
                    }
                    found = Some(v.trim().to_owned());
                }
            }
        }
    }
    Ok(found)
}

/// Reads the credential. Two different credentials at once, a repeated header, or a malformed
/// `Authorization` is a `400`.
/// Long because every combination of headers has its own answer, in one place a reader (and the
/// property test and fuzz target) can check.
pub fn extract(headers: &HeaderMap) -> ApiResult<Presented> {
    let authorization = single(headers, "authorization")?;
    let signed_key = single(headers, "x-custom-api-key")?;
    let cookie = session_cookie(headers)?;

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
            return Err(malformed(
                "credentials_ambiguous",
                "a signed request must not carry another credential",
            ));
        }
        let need = |name: &'static str| -> ApiResult<String> {
            single(headers, name)?.map(str::to_owned).ok_or_else(|| {
                ApiError::bad_request(
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
            return Err(ApiError::bad_request(
                "signed_header_missing",
                "a signed request needs the x-custom-api-key header",
            ));
        }
    }

    if let Some(t) = dpop {
        return match cookie {
            None => Ok(Presented::Dpop(t)),
            Some(_) => Err(malformed(
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
        _ => Err(malformed(
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
        assert_eq!(
            extract(&h(&[("cookie", "a=b; kg_session=xyz")])).unwrap(),
            Presented::Session("xyz".into())
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
        for headers in [
            h(&[("authorization", "Basic a"), ("authorization", "Basic b")]),
            h(&[("authorization", "Basic a"), ("cookie", "kg_session=x")]),
            h(&[("authorization", "Digest a")]),
            h(&[("authorization", "Basic")]),
            h(&[("x-custom-nonce", "n")]),
            h(&[("x-custom-api-key", "k"), ("x-custom-date", "1")]),
            h(&[("cookie", "kg_session=a; kg_session=b")]),
            h(&[("authorization", "DPoP t"), ("cookie", "kg_session=x")]),
            h(&[
                ("x-custom-api-key", "k"),
                ("x-custom-date", "1"),
                ("x-custom-nonce", "n"),
                ("x-custom-signature", "s"),
                ("authorization", "DPoP j"),
            ]),
        ] {
            let e = extract(&headers).unwrap_err();
            assert_eq!(e.status(), 400, "{headers:?}");
        }
    }
}
