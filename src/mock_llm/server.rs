//! The mock server's plumbing: the hyper accept loop and its bounds, body reading, routing a
//! request through the protocol checks, the brief and the fault decision to one reply, the
//! waits (latency, timeout holds), dropped connections, and the stats.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use super::brief::{self, Brief};
use super::cache::{CacheUse, PromptCache, CHARS_PER_TOKEN};
use super::faults::{self, FaultKind, Quirk};
use super::protocols::{
    self, Answer, Args, Call, Envelope, ErrorContext, ErrorKind, Incoming, Protocol, Rejection,
    RequestMeta, Route,
};
use super::rate_limit::{Admission, RateLimit};
use super::{MockConfig, MockStats, RequestLogEntry};

/// Largest request body read; bigger ones get 413. Real prompts here are tens of KiB.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// An oversized body is still read (and thrown away) up to this size before the 413, because
/// closing a socket with unread data resets it and the client, still sending, would see the
/// reset instead of the 413. Beyond this the client is cut off.
const MAX_DRAIN_BYTES: u64 = 64 * 1024 * 1024;
/// A client that has not sent its headers or body by then is cut off.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Open connections beyond this are closed on accept: the mock must not be exhausted by a
/// leaky client holding `timeout` faults open.
const MAX_CONNECTIONS: usize = 1024;
/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);
/// The request log keeps the newest entries only: a long benchmark must not grow memory.
const MAX_LOG_ENTRIES: usize = 50_000;
/// Distinct paths counted; further ones are counted under `OTHER_PATHS` (Gemini paths carry
/// the model name, so the set is open).
const MAX_PATH_KEYS: usize = 256;
const OTHER_PATHS: &str = "(other)";

/// State shared by every connection.
pub(crate) struct Shared {
    config: MockConfig,
    recorder: Mutex<Recorder>,
    cache: PromptCache,
    rate_limit: Option<RateLimit>,
}

#[derive(Default)]
struct Recorder {
    requests_by_path: BTreeMap<String, u64>,
    requests_by_step: BTreeMap<String, u64>,
    faults_by_kind: BTreeMap<String, u64>,
    log: VecDeque<RequestLogEntry>,
    next_seq: u64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recorder> {
        // A panic while holding the lock cannot leave the counters inconsistent beyond one
        // request, so a poisoned lock is still good to use.
        self.recorder.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn snapshot(&self) -> MockStats {
        let recorder = self.lock();
        let mut log: Vec<RequestLogEntry> = recorder.log.iter().cloned().collect();
        // Entries are pushed when answers are decided, which concurrent requests may do out
        // of arrival order.
        log.sort_by_key(|entry| entry.seq);
        MockStats {
            requests_by_path: recorder.requests_by_path.clone(),
            requests_by_step: recorder.requests_by_step.clone(),
            faults_by_kind: recorder.faults_by_kind.clone(),
            log,
        }
    }

    /// Counts a request's arrival: its sequence number, and for a model step, how many
    /// requests that step had before this one (the `n` of the fault decision).
    fn arrive(&self, path: &str, step: Option<&str>) -> (u64, u64) {
        let mut recorder = self.lock();
        recorder.next_seq += 1;
        let seq = recorder.next_seq;
        let key = if recorder.requests_by_path.contains_key(path)
            || recorder.requests_by_path.len() < MAX_PATH_KEYS
        {
            path
        } else {
            OTHER_PATHS
        };
        *recorder
            .requests_by_path
            .entry(key.to_string())
            .or_default() += 1;
        let n = match step {
            Some(step) => {
                let count = recorder
                    .requests_by_step
                    .entry(step.to_string())
                    .or_default();
                *count += 1;
                *count - 1
            }
            None => 0,
        };
        (seq, n)
    }

    fn log(&self, entry: RequestLogEntry) {
        let mut recorder = self.lock();
        if let Some(fault) = &entry.fault {
            *recorder.faults_by_kind.entry(fault.clone()).or_default() += 1;
        }
        if recorder.log.len() >= MAX_LOG_ENTRIES {
            recorder.log.pop_front();
        }
        recorder.log.push_back(entry);
    }
}

type Body = Full<Bytes>;

/// The service's error: hyper closes the connection without writing a response, which is
/// exactly the `drop` fault.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

pub(crate) async fn start(
    config: MockConfig,
    port: u16,
) -> std::io::Result<(SocketAddr, Arc<Shared>, oneshot::Sender<()>, JoinHandle<()>)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        rate_limit: config.rate_limit.map(RateLimit::new),
        config,
        recorder: Mutex::new(Recorder::default()),
        cache: PromptCache::default(),
    });
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, shared.clone(), stopped));
    Ok((addr, shared, stop, task))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            // A send or a dropped sender (the MockServer dropped) both mean stop.
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if connections.len() >= MAX_CONNECTIONS {
                        drop(stream);
                        continue;
                    }
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            },
        }
    }
    // Aborts connections still open, including requests held by a `timeout` fault.
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    // Small JSON answers: send them at once rather than waiting on Nagle.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move { handle(request, &shared).await }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    // Errors here are the client going away, a header timeout, or a deliberate drop: all
    // end this connection and nothing else.
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn json_response(status: u16, headers: &[(&'static str, String)], body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let map = response.headers_mut();
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        // Our header names and values are ASCII literals and numbers; skip any that are not
        // rather than fail the response.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    response
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn rfc3339_in(seconds: u64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(0));
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn handle(
    request: Request<hyper::body::Incoming>,
    shared: &Shared,
) -> Result<Response<Body>, DropConnection> {
    let path = request.uri().path().to_string();
    match protocols::route(&path) {
        Route::Stats => Ok(stats_response(request.method(), shared)),
        Route::NotFound(protocol) => {
            let message = format!(
                "no mock endpoint {} {path}; the mock serves POST /v1/messages, /v1/chat/completions, /chat/completions, /v1beta/models/{{model}}:generateContent, /models/{{model}}:generateContent and /api/chat",
                request.method()
            );
            Ok(refuse(
                shared,
                &Seen::new(None, protocol, &path),
                ErrorKind::NotFound,
                &message,
            ))
        }
        Route::Model { protocol, .. }
            if protocol != Protocol::OpenAi
                && shared.config.quirks.contains(&Quirk::OpenAiPathsOnly) =>
        {
            // llama-server's answer to a path it does not serve.
            Ok(refuse(
                shared,
                &Seen::new(None, Protocol::OpenAi, &path),
                ErrorKind::NotFound,
                "File Not Found",
            ))
        }
        Route::Model {
            protocol,
            path_model,
        } => {
            let Some(limit) = &shared.rate_limit else {
                return model_request(request, shared, protocol, path_model, path).await;
            };
            match limit.admit() {
                Admission::Refused { retry_after_ms } => {
                    let seen = Seen::new(Some(protocol), protocol, &path);
                    let message = "rate limit of the mock's --rate-limit reached";
                    let retry_after_s = retry_after_ms.div_ceil(1000);
                    let mut reply =
                        refusal(shared, &seen, ErrorKind::RateLimit, message, retry_after_s);
                    reply.headers.retain(|(name, _)| *name != "retry-after");
                    reply
                        .headers
                        .push(("retry-after", retry_after_s.to_string()));
                    reply
                        .headers
                        .push(("retry-after-ms", retry_after_ms.to_string()));
                    Ok(json_response(reply.status, &reply.headers, &reply.body))
                }
                Admission::Admitted {
                    remaining,
                    reset_ms,
                } => {
                    let mut response =
                        model_request(request, shared, protocol, path_model, path).await?;
                    for (name, value) in limit.headers(remaining, reset_ms) {
                        if let Ok(value) = HeaderValue::from_str(&value) {
                            response
                                .headers_mut()
                                .insert(HeaderName::from_static(name), value);
                        }
                    }
                    Ok(response)
                }
            }
        }
    }
}

fn stats_response(method: &Method, shared: &Shared) -> Response<Body> {
    if method != Method::GET {
        let body = serde_json::json!({"error": "use GET for the mock's stats"});
        return json_response(405, &[("allow", "GET".to_string())], &body);
    }
    match serde_json::to_value(shared.snapshot()) {
        Ok(body) => json_response(200, &[], &body),
        Err(err) => json_response(500, &[], &serde_json::json!({"error": err.to_string()})),
    }
}

/// What is known of a request when it is refused: the later the refusal, the more.
struct Seen<'a> {
    /// The protocol whose endpoint was hit; `None` for unknown paths.
    served: Option<Protocol>,
    /// The protocol whose error shape the answer takes.
    style: Protocol,
    path: &'a str,
    step: String,
    repair_turns: usize,
    /// Whether the request carried credentials (never their value).
    credentials: bool,
}

impl<'a> Seen<'a> {
    fn new(served: Option<Protocol>, style: Protocol, path: &'a str) -> Seen<'a> {
        Seen {
            served,
            style,
            path,
            step: String::new(),
            repair_turns: 0,
            credentials: false,
        }
    }
}

/// Answers a request refused before the model would run: counted and logged, never faulted,
/// and not counted against its step (so refusals do not shift the step's fault schedule).
fn refuse(shared: &Shared, seen: &Seen<'_>, kind: ErrorKind, message: &str) -> Response<Body> {
    let reply = refusal(shared, seen, kind, message, shared.config.retry_after_s);
    json_response(reply.status, &reply.headers, &reply.body)
}

/// The logged error reply of a refused request, waiting `retry_after_s` where it says to.
fn refusal(
    shared: &Shared,
    seen: &Seen<'_>,
    kind: ErrorKind,
    message: &str,
    retry_after_s: u64,
) -> protocols::Reply {
    let (seq, _) = shared.arrive(seen.path, None);
    let mut context = error_context(shared, seq);
    context.retry_after_s = retry_after_s;
    context.reset_rfc3339 = rfc3339_in(retry_after_s);
    let reply = protocols::error(seen.style, kind, message, &context);
    shared.log(RequestLogEntry {
        seq,
        protocol: seen.served.map_or("none", Protocol::name).to_string(),
        path: seen.path.to_string(),
        step: seen.step.clone(),
        repair_turns: seen.repair_turns,
        max_output_tokens: None,
        credentials: seen.credentials,
        fault: None,
        status: reply.status,
        input_tokens: 0,
        output_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
    });
    reply
}

fn error_context(shared: &Shared, seq: u64) -> ErrorContext {
    ErrorContext {
        seed: shared.config.fault_seed,
        seq,
        retry_after_s: shared.config.retry_after_s,
        reset_rfc3339: rfc3339_in(shared.config.retry_after_s),
    }
}

enum BodyError {
    TooLarge,
    Timeout,
    /// The client went away or sent a broken body: nobody to answer.
    Broken,
}

async fn read_body(mut body: hyper::body::Incoming) -> Result<Bytes, BodyError> {
    let read = async {
        let mut kept = Vec::new();
        let mut total: u64 = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyError::Broken)?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            total = total.saturating_add(data.len() as u64);
            if total <= MAX_BODY_BYTES as u64 {
                kept.extend_from_slice(&data);
            } else if total > MAX_DRAIN_BYTES {
                return Err(BodyError::TooLarge);
            }
        }
        if total > MAX_BODY_BYTES as u64 {
            Err(BodyError::TooLarge)
        } else {
            Ok(Bytes::from(kept))
        }
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

fn tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(CHARS_PER_TOKEN)).unwrap_or(u64::MAX)
}

async fn model_request(
    request: Request<hyper::body::Incoming>,
    shared: &Shared,
    protocol: Protocol,
    path_model: Option<String>,
    path: String,
) -> Result<Response<Body>, DropConnection> {
    let mut seen = Seen::new(Some(protocol), protocol, &path);
    // Only the presence of a key header is noted, so tests can prove a key was sent.
    seen.credentials = ["x-api-key", "authorization", "x-goog-api-key"]
        .iter()
        .any(|name| request.headers().contains_key(*name));
    if request.method() != Method::POST {
        let message = format!("{} {path} is not allowed; use POST", request.method());
        return Ok(refuse(shared, &seen, ErrorKind::MethodNotAllowed, &message));
    }
    let too_large =
        format!("the request body is larger than the mock's limit of {MAX_BODY_BYTES} bytes");
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_DRAIN_BYTES) {
        return Ok(refuse(shared, &seen, ErrorKind::TooLarge, &too_large));
    }
    // Only presence matters; key headers are never read, so they cannot leak into the log.
    let meta = RequestMeta {
        anthropic_version: request
            .headers()
            .get("anthropic-version")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string),
        path_model,
    };
    let brief_header = request
        .headers()
        .get(crate::providers::MOCK_BRIEF_HEADER)
        .map(|value| value.as_bytes().to_vec());
    let bytes = match read_body(request.into_body()).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            return Ok(refuse(shared, &seen, ErrorKind::TooLarge, &too_large))
        }
        Err(BodyError::Timeout) => {
            let message = "the request body did not arrive in time";
            return Ok(refuse(shared, &seen, ErrorKind::RequestTimeout, message));
        }
        Err(BodyError::Broken) => return Err(DropConnection),
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        let message = "the request body is not UTF-8 JSON";
        return Ok(refuse(shared, &seen, ErrorKind::InvalidRequest, message));
    };
    let body: Value = match serde_json::from_str(text) {
        Ok(body) => body,
        Err(err) => {
            let message = format!("the request body is not valid JSON: {err}");
            return Ok(refuse(shared, &seen, ErrorKind::InvalidRequest, &message));
        }
    };
    let incoming = match protocols::parse(protocol, &body, &meta, &shared.config.quirks) {
        Ok(incoming) => incoming,
        Err(Rejection { kind, message }) => return Ok(refuse(shared, &seen, kind, &message)),
    };
    seen.repair_turns = incoming.repair_turns;
    let brief = match brief::from_header(brief_header.as_deref()) {
        Ok(brief) => brief,
        Err(message) => return Ok(refuse(shared, &seen, ErrorKind::InvalidRequest, &message)),
    };
    let step = brief.step.to_string();
    seen.step.clone_from(&step);
    if incoming.tool_name != brief.tool_name() {
        let message = format!(
            "the request offers the tool \"{}\", but its prompt is for the {step} step, which is answered with \"{}\"",
            incoming.tool_name,
            brief.tool_name()
        );
        return Ok(refuse(shared, &seen, ErrorKind::InvalidRequest, &message));
    }
    let valid = match brief::coach_arguments(&brief) {
        Ok(valid) => valid,
        Err(message) => return Ok(refuse(shared, &seen, ErrorKind::ServerError, &message)),
    };

    let config = &shared.config;
    let (seq, n) = shared.arrive(&path, Some(&step));
    let input_tokens = tokens(text.chars().count());
    // A server checks the prompt against its window before anything else can happen to it.
    let window = config.context_window_tokens;
    let over_window = window > 0 && input_tokens > window;
    let fault = if over_window {
        None
    } else {
        faults::decide(config, &step, n)
    };
    let transport_error = match fault {
        Some(FaultKind::RateLimit) => Some(ErrorKind::RateLimit),
        Some(FaultKind::ServerError) => Some(ErrorKind::ServerError),
        Some(FaultKind::Overloaded) => Some(ErrorKind::Overloaded),
        _ => None,
    };
    let (status, response) = if over_window {
        let reply = protocols::error(
            protocol,
            ErrorKind::ContextLength,
            &protocols::context_message(protocol, input_tokens, window),
            &error_context(shared, seq),
        );
        (reply.status, Some((reply, 0, CacheUse::default())))
    } else if fault == Some(FaultKind::Drop) {
        (0, None)
    } else if let Some(kind) = transport_error {
        let reply = protocols::error(
            protocol,
            kind,
            protocols::fault_message(protocol, kind),
            &error_context(shared, seq),
        );
        (reply.status, Some((reply, 0, CacheUse::default())))
    } else {
        let answer = answer(protocol, fault, &config.quirks, &brief, &incoming, valid);
        let cached = match body.as_object() {
            Some(object) => shared.cache.lookup(protocol, &incoming.model, object),
            None => CacheUse::default(),
        };
        // The cache serves part of this very prompt, never more than it.
        let cache_read_tokens = cached.read_tokens.min(input_tokens);
        let cache_write_tokens = cached.write_tokens.min(input_tokens - cache_read_tokens);
        let output_tokens = match &answer {
            // Cut by the limit: the whole output budget was spent.
            Answer::Calls {
                truncated: true, ..
            } => incoming
                .max_output_tokens
                .unwrap_or_else(|| tokens(answer.output_text_chars())),
            _ => tokens(answer.output_text_chars()),
        };
        let envelope = Envelope {
            model: incoming.model.clone(),
            seed: config.fault_seed,
            seq,
            input_tokens,
            cache_read_tokens,
            cache_write_tokens,
            output_tokens,
            unix_time: unix_now(),
            rfc3339: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        };
        (
            200,
            Some((
                protocols::success(protocol, &envelope, &answer),
                output_tokens,
                CacheUse {
                    read_tokens: cache_read_tokens,
                    write_tokens: cache_write_tokens,
                },
            )),
        )
    };
    let answered = status == 200;
    shared.log(RequestLogEntry {
        seq,
        protocol: protocol.name().to_string(),
        path: path.clone(),
        step: step.clone(),
        repair_turns: incoming.repair_turns,
        max_output_tokens: incoming.max_output_tokens,
        credentials: seen.credentials,
        fault: fault.map(|kind| kind.name().to_string()),
        status,
        input_tokens: if answered { input_tokens } else { 0 },
        output_tokens: response.as_ref().map_or(0, |(_, output, _)| *output),
        cache_read_tokens: response
            .as_ref()
            .map_or(0, |(_, _, cached)| cached.read_tokens),
        cache_write_tokens: response
            .as_ref()
            .map_or(0, |(_, _, cached)| cached.write_tokens),
    });

    let Some((reply, _, _)) = response else {
        return Err(DropConnection);
    };
    let wait_ms = match fault {
        Some(FaultKind::Timeout) => config.timeout_hold_ms,
        Some(kind) if kind.is_transport() => 0,
        _ => config
            .latency_ms
            .saturating_add(faults::jitter_ms(config, &step, n)),
    };
    if wait_ms > 0 {
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    }
    Ok(json_response(reply.status, &reply.headers, &reply.body))
}

/// The model's answer for the step, as bent by a model-level fault, else by the server's
/// quirks.
fn answer(
    protocol: Protocol,
    fault: Option<FaultKind>,
    quirks: &[Quirk],
    brief: &Brief,
    incoming: &Incoming,
    valid: Value,
) -> Answer {
    let call = |name: &str, args: Args| Call {
        name: name.to_string(),
        args,
    };
    let tool = incoming.tool_name.as_str();
    let one = |args: Args| Answer::Calls {
        calls: vec![call(tool, args)],
        truncated: false,
    };
    match fault {
        Some(FaultKind::NoToolCall) => Answer::Text(brief::chatty_text(brief)),
        Some(FaultKind::WrongTool) => Answer::Calls {
            calls: vec![call(brief.wrong_tool_name(), Args::Object(valid))],
            truncated: false,
        },
        Some(FaultKind::ParallelCalls) => Answer::Calls {
            calls: vec![
                call(tool, Args::Object(valid.clone())),
                call(tool, Args::Object(valid)),
            ],
            truncated: false,
        },
        Some(FaultKind::InvalidJson) => one(Args::Text(brief::invalid_json_text(brief))),
        Some(FaultKind::Truncated) => {
            // OpenAI's arguments are text, so the cut is mid-text; the object protocols
            // deliver what parsed: an object missing its later fields.
            let args = if protocol == Protocol::OpenAi {
                Args::Text(brief::truncated_text(&valid.to_string()))
            } else {
                Args::Object(brief::truncated_object(&valid))
            };
            Answer::Calls {
                calls: vec![call(tool, args)],
                truncated: true,
            }
        }
        Some(FaultKind::InvalidArgs) => one(Args::Object(brief::invalid_arguments(brief, &valid))),
        None
        | Some(
            FaultKind::Timeout
            | FaultKind::RateLimit
            | FaultKind::ServerError
            | FaultKind::Overloaded
            | FaultKind::Drop,
        ) => {
            let quirk = |quirk| faults::has(quirks, quirk, protocol);
            if !incoming.tool_required || quirk(Quirk::ToolsDropped) {
                // Free to answer as it likes, or never told of the tool: the model talks.
                Answer::Text(brief::chatty_text(brief))
            } else if quirk(Quirk::ToolCallInContent) {
                Answer::Text(brief::call_in_text(brief, tool, &valid))
            } else {
                one(Args::Object(valid))
            }
        }
    }
}
