//! The load client's connection: one HTTP/1.1 keep-alive connection on hyper's low-level client,
//! one request in flight at a time. No pool, no proxy logic, no redirects, nothing parsed that
//! the flow does not need: on a small machine the client shares the CPU with the server, so
//! every microsecond it spends is one the server does not get.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// One request, as the flows build it.
pub struct Req {
    pub method: Method,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Req {
    pub fn get(target: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            target: target.into(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn post(target: impl Into<String>) -> Self {
        Self {
            method: Method::POST,
            ..Self::get(target)
        }
    }

    pub fn put(target: impl Into<String>) -> Self {
        Self {
            method: Method::PUT,
            ..Self::get(target)
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json(self, body: &Value) -> Self {
        Self {
            body: Bytes::from(body.to_string()),
            ..self.header("content-type", "application/json")
        }
    }

    pub fn form(self, body: &'static str) -> Self {
        Self {
            body: Bytes::from_static(body.as_bytes()),
            ..self.header("content-type", "application/x-www-form-urlencoded")
        }
    }
}

/// A keep-alive connection to the server.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Self, String> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("nodelay: {e}"))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            host: addr.to_string(),
        })
    }

    /// Sends and reads the whole response.
    pub async fn send(&mut self, req: Req) -> Result<(StatusCode, Bytes), String> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let mut b = http::Request::builder()
            .method(req.method)
            .uri(req.target)
            .header("host", &self.host);
        for (k, v) in req.headers {
            b = b.header(k, v);
        }
        let request = b
            .body(Full::new(req.body))
            .map_err(|e| format!("request: {e}"))?;
        let resp = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok((status, body))
    }

    /// Sends and expects `status`; returns the body.
    pub async fn expect(&mut self, req: Req, status: u16) -> Result<Bytes, String> {
        let (got, body) = self.send(req).await?;
        if got.as_u16() != status {
            return Err(format!(
                "expected {status}, got {got}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body)
    }

    /// Sends, expects `status` and a JSON body, and returns its string field `name`.
    pub async fn expect_field(
        &mut self,
        req: Req,
        status: u16,
        name: &str,
    ) -> Result<String, String> {
        let body = self.expect(req, status).await?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
        v[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no '{name}' in {v}"))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass as they are).
pub fn query_value(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
