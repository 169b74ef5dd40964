//! Error responses in each vendor's shape, and the messages fault-driven errors carry.

use serde_json::{json, Value};

use super::*;

/// Facts an error response needs.
#[derive(Debug, Clone)]
pub(crate) struct ErrorContext {
    pub seed: u64,
    pub seq: u64,
    pub retry_after_s: u64,
    /// RFC 3339 time at which a rate limit resets (Anthropic's headers).
    pub reset_rfc3339: String,
}

/// An error response in the protocol's shape.
pub(crate) fn error(
    protocol: Protocol,
    kind: ErrorKind,
    message: &str,
    context: &ErrorContext,
) -> Reply {
    let retry_after = context.retry_after_s.to_string();
    let waits = matches!(kind, ErrorKind::RateLimit | ErrorKind::Overloaded);
    let mut headers: Vec<(&'static str, String)> = Vec::new();
    if waits {
        headers.push(("retry-after", retry_after.clone()));
    }
    if kind == ErrorKind::TooLarge {
        // The rest of an oversized body is not worth reading on this connection.
        headers.push(("connection", "close".to_string()));
    }
    let ids = Envelope {
        model: String::new(),
        seed: context.seed,
        seq: context.seq,
        input_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        output_tokens: 0,
        unix_time: 0,
        rfc3339: String::new(),
    };
    match protocol {
        Protocol::Anthropic => {
            let (status, kind_name) = match kind {
                ErrorKind::InvalidRequest => (400, "invalid_request_error"),
                ErrorKind::MethodNotAllowed => (405, "invalid_request_error"),
                ErrorKind::NotFound => (404, "not_found_error"),
                ErrorKind::TooLarge => (413, "request_too_large"),
                ErrorKind::RequestTimeout => (408, "timeout_error"),
                ErrorKind::RateLimit => (429, "rate_limit_error"),
                ErrorKind::ServerError => (500, "api_error"),
                ErrorKind::Overloaded => (529, "overloaded_error"),
                ErrorKind::ContextLength => (400, "invalid_request_error"),
            };
            let request_id = anthropic_request_id(&ids);
            headers.push(("request-id", request_id.clone()));
            let retry = matches!(status, 408 | 429 | 500 | 529);
            headers.push(("x-should-retry", retry.to_string()));
            if kind == ErrorKind::RateLimit {
                for (limit, remaining, reset) in [
                    (
                        "anthropic-ratelimit-requests-limit",
                        "anthropic-ratelimit-requests-remaining",
                        "anthropic-ratelimit-requests-reset",
                    ),
                    (
                        "anthropic-ratelimit-tokens-limit",
                        "anthropic-ratelimit-tokens-remaining",
                        "anthropic-ratelimit-tokens-reset",
                    ),
                ] {
                    headers.push((limit, "50".to_string()));
                    headers.push((remaining, "0".to_string()));
                    headers.push((reset, context.reset_rfc3339.clone()));
                }
            }
            Reply {
                status,
                headers,
                body: json!({
                    "type": "error",
                    "error": {"type": kind_name, "message": message},
                    "request_id": request_id,
                }),
            }
        }
        Protocol::OpenAi => {
            let (status, type_name, code): (u16, &str, Value) = match kind {
                ErrorKind::InvalidRequest => (400, "invalid_request_error", Value::Null),
                ErrorKind::MethodNotAllowed => (405, "invalid_request_error", Value::Null),
                ErrorKind::NotFound => (404, "invalid_request_error", json!("unknown_url")),
                ErrorKind::TooLarge => (413, "invalid_request_error", json!("request_too_large")),
                ErrorKind::RequestTimeout => (408, "invalid_request_error", json!("timeout")),
                ErrorKind::RateLimit => (429, "rate_limit_exceeded", json!("rate_limit_exceeded")),
                ErrorKind::ServerError => (500, "server_error", Value::Null),
                ErrorKind::Overloaded => (503, "server_error", json!("overloaded")),
                ErrorKind::ContextLength => (
                    400,
                    "invalid_request_error",
                    json!("context_length_exceeded"),
                ),
            };
            headers.push((
                "x-request-id",
                format!("req_{}", ids.id("req", IdAlphabet::LowerHex, 32)),
            ));
            if kind == ErrorKind::RateLimit {
                headers.push(("x-ratelimit-limit-requests", "500".to_string()));
                headers.push(("x-ratelimit-remaining-requests", "0".to_string()));
                headers.push(("x-ratelimit-reset-requests", format!("{retry_after}s")));
            }
            Reply {
                status,
                headers,
                body: json!({"error": {"message": message, "type": type_name, "param": null, "code": code}}),
            }
        }
        Protocol::Gemini => {
            let (status, status_name) = match kind {
                ErrorKind::InvalidRequest => (400, "INVALID_ARGUMENT"),
                // Google answers a wrong method with 404 as well.
                ErrorKind::NotFound | ErrorKind::MethodNotAllowed => (404, "NOT_FOUND"),
                ErrorKind::TooLarge => (413, "INVALID_ARGUMENT"),
                ErrorKind::RequestTimeout => (408, "DEADLINE_EXCEEDED"),
                ErrorKind::RateLimit => (429, "RESOURCE_EXHAUSTED"),
                ErrorKind::ServerError => (500, "INTERNAL"),
                ErrorKind::Overloaded => (503, "UNAVAILABLE"),
                ErrorKind::ContextLength => (400, "INVALID_ARGUMENT"),
            };
            let mut error = json!({"code": status, "message": message, "status": status_name});
            if kind == ErrorKind::RateLimit {
                error["details"] = json!([
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "RATE_LIMIT_EXCEEDED",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com", "quota_limit": "GenerateContentRequestsPerMinutePerProjectPerModel"},
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests", "quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{retry_after}s")},
                ]);
            }
            Reply {
                status,
                headers,
                body: json!({"error": error}),
            }
        }
        Protocol::Ollama => {
            let status = match kind {
                ErrorKind::InvalidRequest => 400,
                ErrorKind::NotFound => 404,
                ErrorKind::MethodNotAllowed => 405,
                ErrorKind::TooLarge => 413,
                ErrorKind::RequestTimeout => 408,
                ErrorKind::RateLimit => 429,
                ErrorKind::ServerError => 500,
                ErrorKind::Overloaded => 503,
                ErrorKind::ContextLength => 400,
            };
            Reply {
                status,
                headers,
                body: json!({"error": message}),
            }
        }
    }
}

/// What a request of `input_tokens` over a window of `window_tokens` is told, in the vendor's
/// words (Ollama's native API truncates instead; its message here is the mock's own).
pub(crate) fn context_message(protocol: Protocol, input_tokens: u64, window_tokens: u64) -> String {
    match protocol {
        Protocol::Anthropic => format!("prompt is too long: {input_tokens} tokens > {window_tokens} maximum"),
        Protocol::OpenAi => format!("This model's maximum context length is {window_tokens} tokens. However, your messages resulted in {input_tokens} tokens. Please reduce the length of the messages."),
        Protocol::Gemini => format!("The input token count ({input_tokens}) exceeds the maximum number of tokens allowed ({window_tokens})."),
        Protocol::Ollama => format!("the input length ({input_tokens} tokens) exceeds the context length ({window_tokens} tokens)"),
    }
}

/// The message each fault-driven error carries.
pub(crate) fn fault_message(protocol: Protocol, kind: ErrorKind) -> &'static str {
    match (protocol, kind) {
        (Protocol::Anthropic, ErrorKind::RateLimit) => "This request would exceed your organization's rate limit (mock fault). Please try again later.",
        (Protocol::OpenAi, ErrorKind::RateLimit) => "Rate limit reached for requests (mock fault). Please try again later.",
        (Protocol::Gemini, ErrorKind::RateLimit) => "Resource has been exhausted (e.g. check quota). (mock fault)",
        (Protocol::Ollama, ErrorKind::RateLimit) => "too many requests (mock fault)",
        (Protocol::Anthropic, ErrorKind::Overloaded) => "Overloaded (mock fault)",
        (Protocol::OpenAi, ErrorKind::Overloaded) => "The engine is currently overloaded, please try again later. (mock fault)",
        (Protocol::Gemini, ErrorKind::Overloaded) => "The model is overloaded. Please try again later. (mock fault)",
        (Protocol::Ollama, ErrorKind::Overloaded) => "server busy, please try again. maximum pending requests exceeded (mock fault)",
        (Protocol::Gemini, _) => "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting (mock fault)",
        (Protocol::Ollama, _) => "the model failed to generate a response (mock fault)",
        _ => "Internal server error (mock fault)",
    }
}
