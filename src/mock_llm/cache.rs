//! The mock's prompt cache, modelled on the vendors': a request whose leading part repeats an
//! earlier request's is reported as reading that part from the cache, so tests can prove that
//! periodize keeps its prompts' prefix stable. Pure but for the set of seen prefixes.
//!
//! The prompt is read in the order the vendors cache it (tools, system prompt, then messages),
//! as the compact JSON of each piece. OpenAI and Gemini cache automatically: the longest
//! earlier prefix, in steps of `BLOCK_TOKENS`, once the prompt has `MIN_CACHED_TOKENS`.
//! Anthropic caches only up to blocks marked with `cache_control`: the longest marked prefix
//! seen before is read, and the rest up to the last mark is written. Ollama reports no cache.
//! A prefix counts as cached from the moment its request arrived (the vendors make it usable
//! once the first response starts), which keeps the mock deterministic in arrival order.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value};

use super::protocols::Protocol;

/// Characters per token, as the mock counts every token.
pub(crate) const CHARS_PER_TOKEN: usize = 4;
/// The shortest prompt prefix any of the vendors caches (Anthropic's and OpenAI's minimum).
const MIN_CACHED_TOKENS: usize = 1024;
/// OpenAI and Gemini report cache hits in steps of this many tokens.
const BLOCK_TOKENS: usize = 128;

/// Tokens of one request served from, and written to, the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CacheUse {
    pub read_tokens: u64,
    pub write_tokens: u64,
}

/// One piece of a prompt in cache order, and whether a cache mark ends it.
struct Piece {
    text: String,
    marked: bool,
}

#[derive(Default)]
pub(crate) struct PromptCache {
    seen: Mutex<HashSet<u64>>,
}

impl PromptCache {
    /// What the request reads from and writes to the cache; its prefixes are cached from now.
    pub fn lookup(&self, protocol: Protocol, model: &str, body: &Map<String, Value>) -> CacheUse {
        let pieces = pieces(protocol, body);
        let text: String = pieces.iter().map(|piece| piece.text.as_str()).collect();
        let salt = (protocol.name(), model);
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        match protocol {
            Protocol::Ollama => CacheUse::default(),
            Protocol::OpenAi | Protocol::Gemini => {
                let block = BLOCK_TOKENS * CHARS_PER_TOKEN;
                let ends: Vec<usize> = (1..=text.len() / block)
                    .map(|n| n * block)
                    .filter(|end| *end >= MIN_CACHED_TOKENS * CHARS_PER_TOKEN)
                    .collect();
                let read = longest_seen(&mut seen, &text, &ends, salt);
                CacheUse {
                    read_tokens: (read / CHARS_PER_TOKEN) as u64,
                    write_tokens: 0,
                }
            }
            Protocol::Anthropic => {
                let mut ends = Vec::new();
                let mut at = 0;
                for piece in &pieces {
                    at += piece.text.len();
                    if piece.marked && at >= MIN_CACHED_TOKENS * CHARS_PER_TOKEN {
                        ends.push(at);
                    }
                }
                let read = longest_seen(&mut seen, &text, &ends, salt);
                let last = ends.last().copied().unwrap_or(0);
                CacheUse {
                    read_tokens: (read / CHARS_PER_TOKEN) as u64,
                    write_tokens: (last.saturating_sub(read) / CHARS_PER_TOKEN) as u64,
                }
            }
        }
    }
}

/// The longest prefix `text[..end]` (of `ends`) seen before, in bytes (0 for none); every one
/// of them counts as seen from now on.
fn longest_seen(seen: &mut HashSet<u64>, text: &str, ends: &[usize], salt: (&str, &str)) -> usize {
    let hashes = prefix_hashes(text, ends, salt);
    let read = ends
        .iter()
        .zip(&hashes)
        .filter(|(_, hash)| seen.contains(hash))
        .map(|(end, _)| *end)
        .max()
        .unwrap_or(0);
    seen.extend(hashes);
    read
}

/// The hash of each prefix `text[..end]`, computed in one pass.
fn prefix_hashes(text: &str, ends: &[usize], salt: (&str, &str)) -> Vec<u64> {
    let mut hasher = DefaultHasher::new();
    salt.hash(&mut hasher);
    let bytes = text.as_bytes();
    let mut at = 0;
    ends.iter()
        .map(|end| {
            hasher.write(&bytes[at..*end]);
            at = *end;
            let mut snapshot = hasher.clone();
            end.hash(&mut snapshot);
            snapshot.finish()
        })
        .collect()
}

fn compact(value: &Value) -> String {
    value.to_string()
}

fn has_mark(value: &Value) -> bool {
    value.get("cache_control").is_some()
}

/// The prompt's pieces in the order the protocol's vendor caches them.
fn pieces(protocol: Protocol, body: &Map<String, Value>) -> Vec<Piece> {
    let plain = |value: &Value| Piece {
        text: compact(value),
        marked: false,
    };
    let mut pieces = Vec::new();
    match protocol {
        Protocol::Anthropic => {
            if let Some(tools) = body.get("tools") {
                let marked = tools
                    .as_array()
                    .and_then(|tools| tools.last())
                    .is_some_and(has_mark);
                pieces.push(Piece {
                    text: compact(tools),
                    marked,
                });
            }
            let blocks_of = |value: &Value, pieces: &mut Vec<Piece>| match value {
                Value::Array(blocks) => pieces.extend(blocks.iter().map(|block| Piece {
                    text: compact(block),
                    marked: has_mark(block),
                })),
                other => pieces.push(plain(other)),
            };
            if let Some(system) = body.get("system") {
                blocks_of(system, &mut pieces);
            }
            for message in body
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                pieces.push(plain(message.get("role").unwrap_or(&Value::Null)));
                blocks_of(message.get("content").unwrap_or(&Value::Null), &mut pieces);
            }
        }
        Protocol::OpenAi | Protocol::Ollama => {
            pieces.extend(body.get("tools").map(plain));
            for message in body
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                pieces.push(plain(message));
            }
        }
        Protocol::Gemini => {
            pieces.extend(body.get("tools").map(plain));
            let system = body
                .get("systemInstruction")
                .or_else(|| body.get("system_instruction"));
            pieces.extend(system.map(plain));
            for content in body
                .get("contents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                pieces.push(plain(content));
            }
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn long(text: &str) -> String {
        text.repeat(MIN_CACHED_TOKENS * CHARS_PER_TOKEN / text.len() + 1)
    }

    fn openai(system: &str, user: &str) -> Map<String, Value> {
        json!({"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn automatic_caching_reads_the_longest_earlier_prefix_in_blocks() {
        let cache = PromptCache::default();
        let system = long("Coach. ");
        let first = cache.lookup(Protocol::OpenAi, "m", &openai(&system, "week 1"));
        assert_eq!(first, CacheUse::default());
        let second = cache.lookup(Protocol::OpenAi, "m", &openai(&system, "week 2"));
        assert!(second.read_tokens >= MIN_CACHED_TOKENS as u64, "{second:?}");
        assert_eq!(second.read_tokens % BLOCK_TOKENS as u64, 0);
        // Another model has its own cache; a short prompt is never cached.
        assert_eq!(
            cache.lookup(Protocol::OpenAi, "other", &openai(&system, "week 2")),
            CacheUse::default()
        );
        let short = openai("Coach.", "week 1");
        cache.lookup(Protocol::OpenAi, "m", &short);
        assert_eq!(
            cache.lookup(Protocol::OpenAi, "m", &short),
            CacheUse::default()
        );
    }

    #[test]
    fn anthropic_caches_only_up_to_its_marks() {
        let cache = PromptCache::default();
        let system = long("Coach. ");
        let body = |marked: bool, user: &str| {
            let mut block = json!({"type": "text", "text": system});
            if marked {
                block["cache_control"] = json!({"type": "ephemeral"});
            }
            json!({"system": [block], "messages": [{"role": "user", "content": user}]})
                .as_object()
                .unwrap()
                .clone()
        };
        assert_eq!(
            cache.lookup(Protocol::Anthropic, "m", &body(false, "a")),
            CacheUse::default()
        );
        assert_eq!(
            cache.lookup(Protocol::Anthropic, "m", &body(false, "b")),
            CacheUse::default(),
            "no mark, no cache"
        );
        let write = cache.lookup(Protocol::Anthropic, "m", &body(true, "a"));
        assert!(
            write.read_tokens == 0 && write.write_tokens > 0,
            "{write:?}"
        );
        let read = cache.lookup(Protocol::Anthropic, "m", &body(true, "b"));
        assert_eq!(read.read_tokens, write.write_tokens);
        assert_eq!(read.write_tokens, 0);
    }
}
