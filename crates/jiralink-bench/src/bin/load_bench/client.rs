//! One user's HTTP/1.1 keep-alive connection to one server: a browser's cookies (the session)
//! or a script's bearer key, a timeout per request, and the whole answer read.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use jiralink_bench::BoxError;

/// How long one request may take before it counts as a transport error.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What one request got.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    /// `name=value` of every `Set-Cookie` of the answer.
    pub(crate) cookies: Vec<String>,
}

impl Answer {
    /// The value of the cookie `name` the answer sets, if it sets one.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find_map(|c| c.strip_prefix(name)?.strip_prefix('='))
    }

    pub(crate) fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    pub(crate) fn json(&self) -> Result<serde_json::Value, BoxError> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub(crate) enum Auth<'a> {
    None,
    /// `Authorization: Bearer <key>`.
    Bearer(&'a HeaderValue),
    /// A `Cookie` header (the session, or the sign-in form's cookie).
    Cookie(&'a HeaderValue),
}

/// What a request carries.
pub(crate) enum Body {
    Empty,
    Json(String),
    Form(String),
}

/// One keep-alive HTTP/1.1 connection to one address, opened again after an error.
pub(crate) struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub(crate) fn new(addr: SocketAddr) -> Result<Self, BoxError> {
        Ok(Self {
            addr,
            host: HeaderValue::from_str(&addr.to_string())?,
            sender: None,
        })
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, BoxError> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| "no connection".into())
    }

    /// Sends one request and reads the whole answer, within [`REQUEST_TIMEOUT`].
    pub(crate) async fn send(
        &mut self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        csrf: Option<&str>,
        body: Body,
    ) -> Result<Answer, BoxError> {
        let host = self.host.clone();
        let exchange = async {
            let sender = self.connect().await?;
            sender.ready().await?;
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header(header::HOST, host);
            req = match auth {
                Auth::None => req,
                Auth::Bearer(v) => req.header(header::AUTHORIZATION, v),
                Auth::Cookie(v) => req.header(header::COOKIE, v),
            };
            if let Some(token) = csrf {
                req = req.header("x-csrf-token", token);
            }
            let bytes = match body {
                Body::Empty => Bytes::new(),
                Body::Json(text) => {
                    req = req.header(header::CONTENT_TYPE, "application/json");
                    Bytes::from(text)
                }
                Body::Form(text) => {
                    req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                    Bytes::from(text)
                }
            };
            let res = sender.send_request(req.body(Full::new(bytes))?).await?;
            let status = res.status();
            let cookies = res
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(|v| v.split(';').next())
                .map(str::to_owned)
                .collect();
            let body = res.into_body().collect().await?.to_bytes();
            Ok::<_, BoxError>(Answer {
                status,
                body,
                cookies,
            })
        };
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}").into()),
        };
        if result.is_err() {
            // A broken or abandoned connection is opened again on the next request.
            self.sender = None;
        }
        result
    }
}

/// `application/x-www-form-urlencoded` of the pairs.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A path segment or query value, percent-encoded.
pub(crate) fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The value of the first `name="<field>" value="…"` input of a page.
pub(crate) fn input_value<'a>(html: &'a str, field: &str) -> Option<&'a str> {
    let marker = format!("name=\"{field}\" value=\"");
    let at = html.find(&marker)? + marker.len();
    let len = html[at..].find('"')?;
    Some(&html[at..at + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_read_from_pages() {
        let html = r#"<form><input type="hidden" name="_csrf" value="abc123"><input name="version" value="4"></form>"#;
        assert_eq!(input_value(html, "_csrf"), Some("abc123"));
        assert_eq!(input_value(html, "version"), Some("4"));
        assert_eq!(input_value(html, "missing"), None);
    }

    #[test]
    fn forms_and_values_are_encoded() {
        assert_eq!(form(&[("a", "x y"), ("b", "&")]), "a=x+y&b=%26");
        assert_eq!(encode("u1 api/2"), "u1+api%2F2");
    }
}
