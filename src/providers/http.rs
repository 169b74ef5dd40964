//! The one place that sends HTTP: a shared reqwest client with connect, silence and (optional)
//! whole-request timeouts that never follows a redirect, one POST per call (retries are
//! workflow decisions), and the raw reply handed to a protocol's pure `decode`.

use std::sync::Once;
use std::time::Duration;

use crate::providers::secret::Secret;

/// The largest reply body read. A reply holds one tool call of at most the request's output
/// tokens (a few hundred KB of text at most); 8 MiB leaves room for any of them and for
/// verbose error pages.
pub const MAX_REPLY_BODY_BYTES: usize = 8 * 1024 * 1024;

/// A raw HTTP reply: status, headers (names lowercased) and body, with the size of the request
/// body it answers, from which a decoder estimates the usage a server misreports.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub request_bytes: usize,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The server's wait hint, from now on the wall clock (see `retry_after_ms_at`).
    pub fn retry_after_ms(&self) -> Option<u64> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        self.retry_after_ms_at(now_ms)
    }

    /// The server's wait hint: `retry-after-ms`, or `retry-after` in seconds or as an HTTP
    /// date (`Wed, 21 Oct 2015 07:28:00 GMT`). A date counts from the reply's own `date`
    /// header when it has one (both then come from the server's clock, so a skewed local
    /// clock does not matter), else from `now_ms` (Unix milliseconds); a date already past
    /// means no wait. Callers cap the wait (`workflow::retry::RETRY_AFTER_MAX_MS`).
    pub fn retry_after_ms_at(&self, now_ms: u64) -> Option<u64> {
        if let Some(ms) = self
            .header("retry-after-ms")
            .and_then(|value| value.trim().parse::<f64>().ok())
        {
            // `as` saturates: a negative or NaN hint is 0, an infinite one the cap.
            return Some(ms.max(0.0).round() as u64);
        }
        let value = self.header("retry-after")?.trim();
        if let Ok(seconds) = value.parse::<f64>() {
            return Some((seconds.max(0.0) * 1000.0).round() as u64);
        }
        let at_ms = http_date_ms(value)?;
        let now_ms = self
            .header("date")
            .and_then(|date| http_date_ms(date.trim()))
            .unwrap_or_else(|| i64::try_from(now_ms).unwrap_or(i64::MAX));
        Some(u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0))
    }
}

/// An HTTP date (IMF-fixdate, which is RFC 2822's form with `GMT`) as Unix milliseconds.
fn http_date_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|date| date.timestamp_millis())
}

/// A header value, and whether it is a secret (marked sensitive, never logged).
#[derive(Debug, Clone)]
pub enum HeaderValue {
    Plain(String),
    Secret(Secret),
}

/// Why a request got no usable HTTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    Timeout(String),
    Connect(String),
    Other(String),
    /// A 3xx. Redirects are never followed: reqwest strips only `authorization` when one
    /// leaves the host, so `x-api-key` and `x-goog-api-key` would go wherever it points.
    Redirect {
        status: u16,
        location: String,
    },
    /// The body grew past `MAX_REPLY_BODY_BYTES`; reading stopped there.
    BodyTooLarge {
        status: u16,
        limit_bytes: usize,
    },
}

impl TransportError {
    /// Whether another attempt cannot help: a redirect points the same way every time, and a
    /// server that sends more than any model reply could be is broken, not busy (retrying
    /// would read another `MAX_REPLY_BODY_BYTES` per attempt for nothing).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            TransportError::Redirect { .. } | TransportError::BodyTooLarge { .. }
        )
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Timeout(message) => write!(f, "request timed out: {message}"),
            TransportError::Connect(message) => write!(f, "cannot connect: {message}"),
            TransportError::Other(message) => write!(f, "request failed: {message}"),
            TransportError::Redirect { status, location } => write!(
                f,
                "the server answered {status} with a redirect to {location}; periodize does not follow redirects (they would carry the API key to another address): fix --base-url"
            ),
            TransportError::BodyTooLarge {
                status,
                limit_bytes,
            } => write!(
                f,
                "the {status} reply body exceeds {limit_bytes} bytes, more than any model reply; reading stopped there"
            ),
        }
    }
}

/// How long a request may take, in milliseconds; 0 is no limit (except for connecting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect_ms: u64,
    /// The whole request, from sending to the last byte of the reply (`--request-timeout-ms`).
    pub request_ms: u64,
    /// Silence: no byte from the server for this long (`--read-timeout-ms`). A reply that is
    /// not streamed says nothing until the whole answer is generated, so until the reply
    /// starts this bounds the generation too.
    pub read_ms: u64,
}

/// The default silence limit: ten minutes, twice the longest non-streamed answer a CPU server
/// has been seen to take (344 s), and far beyond any hosted API.
pub const DEFAULT_READ_TIMEOUT_MS: u64 = 600_000;
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            request_ms: 0,
            read_ms: DEFAULT_READ_TIMEOUT_MS,
        }
    }
}

/// The shared client and the timeouts it was built with, which its timeout errors name.
#[derive(Debug, Clone)]
pub struct Client {
    reqwest: reqwest::Client,
    timeouts: Timeouts,
}

impl Client {
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.reqwest
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }
}

static CRYPTO: Once = Once::new();

/// The shared client. TLS uses rustls with the ring provider (quick to build, no C toolchain
/// beyond what ring needs), installed once per process.
pub fn client(timeouts: Timeouts) -> Result<Client, String> {
    CRYPTO.call_once(|| {
        // Another crate may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(timeouts.connect_ms))
        .user_agent(concat!("periodize/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    if timeouts.request_ms > 0 {
        builder = builder.timeout(Duration::from_millis(timeouts.request_ms));
    }
    if timeouts.read_ms > 0 {
        builder = builder.read_timeout(Duration::from_millis(timeouts.read_ms));
    }
    let reqwest = builder
        .build()
        .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
    Ok(Client { reqwest, timeouts })
}

/// One POST of a JSON body, already serialized (the caller sized it for the rate limiter). Never
/// retries.
pub async fn post_json(
    client: &Client,
    url: &str,
    headers: &[(&'static str, HeaderValue)],
    bytes: Vec<u8>,
) -> Result<HttpReply, TransportError> {
    let started = tokio::time::Instant::now();
    let transport = |err| classify(err, client.timeouts, started.elapsed());
    let mut request = client
        .reqwest
        .post(url)
        .header("content-type", "application/json");
    for (name, value) in headers {
        let value = match value {
            HeaderValue::Plain(text) => reqwest::header::HeaderValue::from_str(text),
            HeaderValue::Secret(secret) => reqwest::header::HeaderValue::from_str(secret.expose())
                .map(|mut value| {
                    value.set_sensitive(true);
                    value
                }),
        }
        .map_err(|_| {
            TransportError::Other(format!("header {name} has characters HTTP does not allow"))
        })?;
        request = request.header(*name, value);
    }
    let request_bytes = bytes.len();
    let response = request.body(bytes).send().await.map_err(transport)?;
    let status = response.status().as_u16();
    if response.status().is_redirection() {
        let location = response
            .headers()
            .get("location")
            .map_or("nowhere (no location header)".to_string(), |value| {
                format!("{:?}", crate::providers::excerpt(value.as_bytes()))
            });
        return Err(TransportError::Redirect { status, location });
    }
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = bounded_body(response, status)
        .await
        .map_err(|err| match err {
            Ok(transport) => transport,
            Err(err) => transport(err),
        })?;
    Ok(HttpReply {
        status,
        headers,
        body,
        request_bytes,
    })
}

/// The body, read chunk by chunk so that a body that never ends (or claims to be huge) stops
/// at `MAX_REPLY_BODY_BYTES` instead of growing the process until the request timeout.
/// A failed read is handed back as reqwest's error, for the caller to classify.
async fn bounded_body(
    mut response: reqwest::Response,
    status: u16,
) -> Result<Vec<u8>, Result<TransportError, reqwest::Error>> {
    let too_large = TransportError::BodyTooLarge {
        status,
        limit_bytes: MAX_REPLY_BODY_BYTES,
    };
    let declared = response
        .content_length()
        .map_or(Ok(0), usize::try_from)
        .unwrap_or(usize::MAX);
    if declared > MAX_REPLY_BODY_BYTES {
        return Err(Ok(too_large));
    }
    let mut body = Vec::with_capacity(declared);
    while let Some(chunk) = response.chunk().await.map_err(Err)? {
        if body.len() + chunk.len() > MAX_REPLY_BODY_BYTES {
            return Err(Ok(too_large));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport error; a timeout says which limit ran out (judged by `elapsed`, since reqwest
/// reports them alike) and the option that raises it.
fn classify(err: reqwest::Error, timeouts: Timeouts, elapsed: Duration) -> TransportError {
    // reqwest's message can carry the URL; ours never holds a key (keys go in headers).
    let message = err.to_string();
    if err.is_timeout() {
        TransportError::Timeout(timeout_message(
            &message,
            err.is_connect(),
            timeouts,
            elapsed,
        ))
    } else if err.is_connect() {
        TransportError::Connect(message)
    } else {
        TransportError::Other(message)
    }
}

fn timeout_message(
    detail: &str,
    connecting: bool,
    timeouts: Timeouts,
    elapsed: Duration,
) -> String {
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    if connecting {
        format!(
            "no connection within --connect-timeout-ms {} ({detail})",
            timeouts.connect_ms
        )
    } else if timeouts.request_ms > 0 && elapsed_ms >= timeouts.request_ms {
        format!(
            "no complete reply within --request-timeout-ms {}; raise it (0: no limit) for a slow server ({detail})",
            timeouts.request_ms
        )
    } else {
        format!(
            "nothing from the server for --read-timeout-ms {} (a reply that is not streamed says nothing until the whole answer is generated); raise it for a slow server ({detail})",
            timeouts.read_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(headers: &[(&str, &str)]) -> HttpReply {
        HttpReply {
            status: 429,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body: Vec::new(),
            request_bytes: 0,
        }
    }

    /// `Wed, 21 Oct 2015 07:28:00 GMT` in Unix milliseconds.
    const DATE_MS: u64 = 1_445_412_480_000;

    #[test]
    fn retry_after_in_seconds_and_milliseconds() {
        assert_eq!(
            reply(&[("retry-after", "7")]).retry_after_ms_at(0),
            Some(7_000)
        );
        assert_eq!(
            reply(&[("retry-after", "1.5"), ("retry-after-ms", "250")]).retry_after_ms_at(0),
            Some(250)
        );
        assert_eq!(
            reply(&[("retry-after", "-3")]).retry_after_ms_at(0),
            Some(0)
        );
        assert_eq!(reply(&[]).retry_after_ms_at(0), None);
        assert_eq!(reply(&[("retry-after", "soon")]).retry_after_ms_at(0), None);
    }

    #[test]
    fn an_http_date_counts_from_the_replys_date_header() {
        let hinted = reply(&[
            ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("date", "Wed, 21 Oct 2015 07:26:30 GMT"),
        ]);
        // The local clock is a day off; the server's own date decides.
        assert_eq!(hinted.retry_after_ms_at(DATE_MS + 86_400_000), Some(90_000));
    }

    #[test]
    fn an_http_date_without_a_date_header_counts_from_now() {
        let hinted = reply(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(hinted.retry_after_ms_at(DATE_MS - 12_000), Some(12_000));
        assert_eq!(
            hinted.retry_after_ms_at(DATE_MS + 5_000),
            Some(0),
            "a date already past means no wait"
        );
    }
}
