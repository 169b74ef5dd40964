//! Redaction of everything a provider says before periodize keeps or shows it. A server may
//! quote the key it was sent (OpenAI's 401 does, masked or whole), echo request headers, or
//! have a model repeat the key in a tool call or in text; every string of a `ModelReply`
//! passes through here in `HttpProvider::call`, so no failure message, tool argument or
//! refused answer reaches the store, the logs or the terminal with a credential in it.
//!
//! What is redacted, each span replaced by `[redacted]`:
//! - the key itself, wherever it appears, when it has at least `MIN_KEY_CHARS` characters
//!   (shorter values are placeholders such as `none` or `dummy` that local OpenAI-compatible
//!   servers accept; redacting them would rewrite ordinary words of model text);
//! - for keys of at least `MIN_FRAGMENT_KEY_CHARS` characters, the fragments vendors print to
//!   identify a key: its first `KEY_PREFIX_CHARS` characters anywhere, and a masked echo such
//!   as `sk-abc...wxyz` or `sk-proj-****wxyz` (a run of `*`, `.`, `…` or `•` followed by a
//!   suffix of the key of at least `KEY_SUFFIX_CHARS` characters, with the key prefix before
//!   it). A bare four-character suffix is not redacted on its own: it is too short to tell
//!   apart from ordinary words ("ning" in "training");
//! - the value after a credential header name (`authorization`, `x-api-key`,
//!   `x-goog-api-key`, any `api-key` or `api_key`) and a `:` or `=`, with its scheme word
//!   (`Bearer`), whatever key periodize holds;
//! - a bearer token anywhere: `Bearer` followed by at least `MIN_BEARER_TOKEN_CHARS`
//!   token characters including a digit (random tokens have digits; English words do not).

use std::borrow::Cow;
use std::ops::Range;

use crate::llm::{ModelFailure, ModelOutcome, ModelReply, PriorReply, ToolCall};
use crate::providers::secret::Secret;

/// What a redacted span becomes. It holds no quote or backslash, so a span inside a JSON
/// string leaves the JSON valid.
pub const REDACTED: &str = "[redacted]";
/// Keys shorter than this are placeholders, not credentials (no vendor issues one).
pub const MIN_KEY_CHARS: usize = 8;
/// Keys at least this long also have their identifying fragments redacted: then the
/// fragments are a small part of the key, and distinctive.
pub const MIN_FRAGMENT_KEY_CHARS: usize = 16;
/// The key prefix vendors print (OpenAI shows `sk-abc12` or `sk-proj-`).
pub const KEY_PREFIX_CHARS: usize = 8;
/// The shortest key suffix that, after a mask, makes a masked echo (OpenAI shows 4).
pub const KEY_SUFFIX_CHARS: usize = 4;
/// Mask characters in a row that make a mask (`...`); one `…` counts as three.
const MIN_MASK_CHARS: usize = 3;
pub const MIN_BEARER_TOKEN_CHARS: usize = 16;
/// Names whose value is a credential; `api-key` also matches `x-api-key` and
/// `x-goog-api-key`, `authorization` also `proxy-authorization`.
const CREDENTIAL_NAMES: &[&str] = &["authorization", "api-key", "api_key"];
/// Scheme words skipped before a credential value.
const SCHEMES: &[&str] = &["bearer", "basic", "token"];

/// Redacts every string of a reply: failure messages, tool call fields, refused answers.
pub fn reply(mut reply: ModelReply, key: Option<&Secret>) -> ModelReply {
    match &mut reply.outcome {
        ModelOutcome::Call(call) => redact_call(call, key),
        ModelOutcome::Failed(
            ModelFailure::Transient { message, .. }
            | ModelFailure::Fatal { message }
            | ModelFailure::ContextLength { message },
        ) => redact_in_place(message, key),
        ModelOutcome::Failed(ModelFailure::Malformed { message, reply }) => {
            redact_in_place(message, key);
            match reply {
                PriorReply::Call(call) => redact_call(call, key),
                PriorReply::Text(text) => redact_in_place(text, key),
            }
        }
    }
    reply
}

fn redact_call(call: &mut ToolCall, key: Option<&Secret>) {
    redact_in_place(&mut call.id, key);
    redact_in_place(&mut call.name, key);
    redact_in_place(&mut call.arguments, key);
    if let Some(signature) = &mut call.signature {
        redact_in_place(signature, key);
    }
}

fn redact_in_place(text: &mut String, key: Option<&Secret>) {
    if let Cow::Owned(redacted) = text_with(text, key) {
        *text = redacted;
    }
}

/// `text` with every credential span replaced by `[redacted]`; borrowed when there is none.
pub fn text_with<'a>(text: &'a str, key: Option<&Secret>) -> Cow<'a, str> {
    let mut spans = Vec::new();
    if let Some(key) = key
        .map(Secret::expose)
        .filter(|key| key.len() >= MIN_KEY_CHARS)
    {
        key_spans(text, key, &mut spans);
    }
    header_spans(text, &mut spans);
    bearer_spans(text, &mut spans);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    // Overlapping or touching spans become one, so a key and its prefix give one marker.
    spans.sort_by_key(|span| span.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in merged {
        out.push_str(&text[at..span.start]);
        out.push_str(REDACTED);
        at = span.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

fn key_spans(text: &str, key: &str, spans: &mut Vec<Range<usize>>) {
    find_all(text, key, spans);
    if key.chars().count() < MIN_FRAGMENT_KEY_CHARS {
        return;
    }
    let prefix_end = key
        .char_indices()
        .nth(KEY_PREFIX_CHARS)
        .map_or(key.len(), |(index, _)| index);
    find_all(text, &key[..prefix_end], spans);
    masked_echo_spans(text, key, spans);
}

fn find_all(text: &str, needle: &str, spans: &mut Vec<Range<usize>>) {
    spans.extend(
        text.match_indices(needle)
            .map(|(start, found)| start..start + found.len()),
    );
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Mask characters and how many characters of a mask each stands for.
fn mask_weight(c: char) -> usize {
    match c {
        '*' | '.' | '•' => 1,
        '…' => MIN_MASK_CHARS,
        _ => 0,
    }
}

/// `<key prefix><mask><key suffix>`: a mask run followed by a token that ends the key; the
/// token before the mask is included when the key starts with it.
fn masked_echo_spans(text: &str, key: &str, spans: &mut Vec<Range<usize>>) {
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if mask_weight(c) == 0 {
            continue;
        }
        let mut weight = mask_weight(c);
        let mut mask_end = start + c.len_utf8();
        while let Some(&(index, next)) = chars.peek() {
            if mask_weight(next) == 0 {
                break;
            }
            weight += mask_weight(next);
            mask_end = index + next.len_utf8();
            chars.next();
        }
        if weight < MIN_MASK_CHARS {
            continue;
        }
        let tail_end = text[mask_end..]
            .find(|c: char| !is_key_char(c))
            .map_or(text.len(), |offset| mask_end + offset);
        let tail = &text[mask_end..tail_end];
        if tail.len() < KEY_SUFFIX_CHARS || !key.ends_with(tail) {
            continue;
        }
        let head_start = text[..start]
            .char_indices()
            .rev()
            .find(|(_, c)| !is_key_char(*c))
            .map_or(0, |(index, c)| index + c.len_utf8());
        let head = &text[head_start..start];
        let span_start = if key.starts_with(head) {
            head_start
        } else {
            start
        };
        spans.push(span_start..tail_end);
    }
}

/// Byte offsets of `needle` in `text`, ASCII case-insensitively (`needle` is lowercase ASCII).
fn find_all_ignore_case(text: &str, needle: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let needle = needle.as_bytes();
    if bytes.len() < needle.len() {
        return Vec::new();
    }
    (0..=bytes.len() - needle.len())
        .filter(|&at| bytes[at..at + needle.len()].eq_ignore_ascii_case(needle))
        .collect()
}

fn skip_while(text: &str, at: usize, skip: impl Fn(char) -> bool) -> usize {
    text[at..]
        .find(|c: char| !skip(c))
        .map_or(text.len(), |offset| at + offset)
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '\\')
}

/// A scheme word (`Bearer`) at `at` followed by whitespace: the offset after both.
fn skip_scheme(text: &str, at: usize) -> usize {
    for scheme in SCHEMES {
        let end = at + scheme.len();
        let word = text.as_bytes().get(at..end);
        if word.is_some_and(|word| word.eq_ignore_ascii_case(scheme.as_bytes()))
            && text[end..].starts_with(char::is_whitespace)
        {
            return skip_while(text, end, char::is_whitespace);
        }
    }
    at
}

/// `authorization: Bearer x`, `"x-api-key": "x"`, `api_key=x`: the value.
fn header_spans(text: &str, spans: &mut Vec<Range<usize>>) {
    for name in CREDENTIAL_NAMES {
        for start in find_all_ignore_case(text, name) {
            let after_name = skip_while(text, start + name.len(), |c| {
                is_quote(c) || c.is_whitespace()
            });
            if !text[after_name..].starts_with([':', '=']) {
                continue;
            }
            let value_start =
                skip_while(text, after_name + 1, |c| is_quote(c) || c.is_whitespace());
            let value_start = skip_scheme(text, value_start);
            let value_end = skip_while(text, value_start, |c| {
                !(c.is_whitespace()
                    || is_quote(c)
                    || matches!(c, ',' | ';' | '&' | ')' | ']' | '}' | '>'))
            });
            if value_end > value_start {
                spans.push(value_start..value_end);
            }
        }
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/' | '=')
}

/// `Bearer <token>` anywhere, for a token that looks random: long, with a digit.
fn bearer_spans(text: &str, spans: &mut Vec<Range<usize>>) {
    for start in find_all_ignore_case(text, "bearer") {
        let after = start + "bearer".len();
        if !text[after..].starts_with(char::is_whitespace) {
            continue;
        }
        let token_start = skip_while(text, after, char::is_whitespace);
        let token_end = skip_while(text, token_start, is_token_char);
        let token = &text[token_start..token_end];
        if token.len() >= MIN_BEARER_TOKEN_CHARS && token.contains(|c: char| c.is_ascii_digit()) {
            spans.push(token_start..token_end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-abc12DEF34ghi56JKL78mno90wxyz";

    fn redact(text: &str) -> String {
        text_with(text, Some(&Secret::new(KEY))).into_owned()
    }

    #[test]
    fn the_whole_key_is_redacted_everywhere() {
        assert_eq!(
            redact(&format!("Incorrect API key provided: {KEY}. Or {KEY}")),
            "Incorrect API key provided: [redacted]. Or [redacted]"
        );
        assert_eq!(
            redact(&format!(r#"{{"coaching_notes": "use {KEY}"}}"#)),
            r#"{"coaching_notes": "use [redacted]"}"#
        );
    }

    #[test]
    fn masked_echoes_and_the_prefix_are_redacted() {
        assert_eq!(
            redact("Incorrect API key provided: sk-abc...wxyz. You can find it"),
            "Incorrect API key provided: [redacted]. You can find it"
        );
        assert_eq!(
            redact("key sk-abc12***************************wxyz."),
            "key [redacted]."
        );
        assert_eq!(redact("key sk-ab…wxyz"), "key [redacted]");
        assert_eq!(
            redact("the prefix sk-abc12 alone"),
            "the prefix [redacted] alone"
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "training wxyz endurance... then a rest day",
            "sweet spot...wxyzz",
            "bearer of bad news, the bearer responsibilities",
            "Authorization needed.",
            "sk-abc",
        ] {
            let redacted = text_with(text, Some(&Secret::new("zzzzzzzzzzzzzzzzzzzz")));
            assert_eq!(redacted, text, "{text}");
        }
        assert!(matches!(
            text_with("nothing here", Some(&Secret::new(KEY))),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_bare_suffix_is_not_a_key() {
        let key = Secret::new("sk-0123456789abcdef-ning");
        assert_eq!(
            text_with("training and ning", Some(&key)),
            "training and ning"
        );
    }

    #[test]
    fn short_keys_are_placeholders() {
        let key = Secret::new("dummy");
        assert_eq!(text_with("a dummy reply", Some(&key)), "a dummy reply");
    }

    #[test]
    fn credential_headers_and_bearer_tokens_are_redacted_without_a_key() {
        for (text, expected) in [
            (
                "echo: Authorization: Bearer tok-123456789abcdefgh",
                "echo: Authorization: Bearer [redacted]",
            ),
            (
                r#"{"headers": {"x-api-key": "sk-ant-zz", "x-goog-api-key":"AIza1"}}"#,
                r#"{"headers": {"x-api-key": "[redacted]", "x-goog-api-key":"[redacted]"}}"#,
            ),
            (
                r#"\"authorization\": \"Bearer abc\""#,
                r#"\"authorization\": \"Bearer [redacted]\""#,
            ),
            ("url?api_key=AIzaSecret&x=1", "url?api_key=[redacted]&x=1"),
            (
                "token bearer eyJhbGciOiJIUzI1NiJ9.e30.x rest",
                "token bearer [redacted] rest",
            ),
        ] {
            assert_eq!(text_with(text, None), expected, "{text}");
        }
    }

    #[test]
    fn every_string_of_a_reply_is_redacted() {
        let key = Secret::new(KEY);
        let call = ToolCall {
            id: KEY.into(),
            name: "t".into(),
            arguments: format!(r#"{{"a": "{KEY}"}}"#),
            signature: Some(KEY.into()),
        };
        let redacted = reply(
            ModelReply {
                outcome: ModelOutcome::Call(call),
                usage: Default::default(),
            },
            Some(&key),
        );
        assert!(!format!("{redacted:?}").contains("wxyz"), "{redacted:?}");
        let malformed = reply(
            ModelReply {
                outcome: ModelOutcome::Failed(ModelFailure::Malformed {
                    message: format!("bad {KEY}"),
                    reply: PriorReply::Text(format!("here: {KEY}")),
                }),
                usage: Default::default(),
            },
            Some(&key),
        );
        assert!(!format!("{malformed:?}").contains("wxyz"), "{malformed:?}");
        let fatal = reply(
            ModelReply {
                outcome: ModelOutcome::Failed(ModelFailure::Fatal {
                    message: format!("401: {KEY}"),
                }),
                usage: Default::default(),
            },
            Some(&key),
        );
        assert_eq!(
            fatal.outcome,
            ModelOutcome::Failed(ModelFailure::Fatal {
                message: "401: [redacted]".into()
            })
        );
    }
}
