//! Anthropic Messages, server side: the request checks of `/v1/messages` and its responses.

use serde_json::{json, Map, Value};

use super::*;

pub(super) fn parse_anthropic(
    object: &Map<String, Value>,
    meta: &RequestMeta,
) -> Result<Incoming, Rejection> {
    if meta.anthropic_version.as_deref().is_none_or(str::is_empty) {
        return Err(bad("anthropic-version: header is required"));
    }
    let model = required_str(object, "model", "model: Field required")?;
    let max_output_tokens = object.get("max_tokens").and_then(Value::as_u64);
    if max_output_tokens.is_none() {
        return Err(bad("max_tokens: Field required"));
    }
    if object.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(bad(
            "stream: the mock answers only non-streaming requests (\"stream\": false or absent)",
        ));
    }
    let tool = exactly_one_tool(object, "tools")?;
    let name = required_str(tool, "name", "tools.0.name: Field required")?;
    let schema_is_object = tool
        .get("input_schema")
        .and_then(|schema| schema.get("type"))
        .and_then(Value::as_str)
        == Some("object");
    if !schema_is_object {
        return Err(bad(
            "tools.0.input_schema: Field required (a JSON Schema with \"type\": \"object\")",
        ));
    }
    let choice = object.get("tool_choice");
    let forced = choice.and_then(|c| c.get("type")).and_then(Value::as_str) == Some("tool")
        && choice.and_then(|c| c.get("name")).and_then(Value::as_str) == Some(name);
    if !forced {
        return Err(bad(format!(
            "tool_choice must force the offered tool: {{\"type\": \"tool\", \"name\": \"{name}\"}}, found {}",
            found(choice)
        )));
    }
    if let Some(thinking) = object.get("thinking") {
        if thinking.get("type").and_then(Value::as_str) != Some("disabled") {
            return Err(bad(
                "Thinking may not be enabled when tool_choice forces tool use.",
            ));
        }
    }
    let messages = non_empty_array(object, "messages", "messages: Field required")?;
    let repair_turns = check_anthropic_turns(messages)?;
    Ok(Incoming {
        model: model.to_string(),
        tool_name: name.to_string(),
        user_text: first_user_text(messages, "messages")?,
        repair_turns,
        max_output_tokens,
        tool_required: true,
    })
}

pub(super) fn blocks(message: &Value) -> &[Value] {
    message
        .get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(super) fn block_type(block: &Value) -> Option<&str> {
    block.get("type").and_then(Value::as_str)
}

/// Every `tool_use` is answered by a `tool_result` in the very next (user) message, results
/// first, and every result answers a `tool_use` of the message before it: the API's 400s.
pub(super) fn check_anthropic_turns(messages: &[Value]) -> Result<usize, Rejection> {
    let missing = |index: usize, ids: &[String]| {
        bad(format!(
            "messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
            ids.join(", ")
        ))
    };
    let mut pending: Vec<String> = Vec::new();
    let mut repair_turns = 0;
    for (index, message) in messages.iter().enumerate() {
        match role(message) {
            Some("user") => {
                let mut answered = Vec::new();
                let mut other_content = false;
                for (position, block) in blocks(message).iter().enumerate() {
                    if block_type(block) != Some("tool_result") {
                        other_content = true;
                        continue;
                    }
                    let id = block
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if !pending.iter().any(|open| open == id) {
                        return Err(bad(format!(
                            "messages.{index}.content.{position}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        )));
                    }
                    if other_content {
                        return Err(bad(format!(
                            "messages.{index}.content.{position}: `tool_result` blocks must come before any other content in a user message"
                        )));
                    }
                    answered.push(id.to_string());
                }
                let unanswered: Vec<String> = pending
                    .iter()
                    .filter(|id| !answered.contains(id))
                    .cloned()
                    .collect();
                if !unanswered.is_empty() {
                    return Err(missing(index.saturating_sub(1), &unanswered));
                }
                pending.clear();
            }
            Some("assistant") => {
                if !pending.is_empty() {
                    return Err(missing(index.saturating_sub(1), &pending));
                }
                if index > 0 {
                    repair_turns += 1;
                }
                pending = blocks(message)
                    .iter()
                    .filter(|block| block_type(block) == Some("tool_use"))
                    .map(|block| {
                        block
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string()
                    })
                    .collect();
            }
            other => {
                return Err(bad(format!(
                    "messages.{index}.role: Input should be 'user' or 'assistant', found {}",
                    found(other.map(Value::from).as_ref())
                )))
            }
        }
    }
    if !pending.is_empty() {
        return Err(missing(messages.len() - 1, &pending));
    }
    Ok(repair_turns)
}

pub(super) fn anthropic_request_id(envelope: &Envelope) -> String {
    format!("req_011C{}", envelope.id("req", IdAlphabet::Base62, 20))
}

pub(super) fn anthropic_success(envelope: &Envelope, answer: &Answer) -> Reply {
    let (content, stop_reason) = match answer {
        Answer::Text(text) => (vec![json!({"type": "text", "text": text})], "end_turn"),
        Answer::Calls { calls, truncated } => (
            calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    json!({
                        "type": "tool_use",
                        "id": format!("toolu_01{}", envelope.id(&format!("toolu{index}"), IdAlphabet::Base62, 22)),
                        "name": call.name,
                        "input": call.args.as_object_value(),
                    })
                })
                .collect(),
            if *truncated { "max_tokens" } else { "tool_use" },
        ),
    };
    Reply {
        status: 200,
        headers: vec![("request-id", anthropic_request_id(envelope))],
        body: json!({
            "id": format!("msg_01{}", envelope.id("msg", IdAlphabet::Base62, 22)),
            "type": "message",
            "role": "assistant",
            "model": envelope.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": {
                // Anthropic counts the uncached part alone in `input_tokens`.
                "input_tokens": envelope.input_tokens - envelope.cache_read_tokens - envelope.cache_write_tokens,
                "cache_creation_input_tokens": envelope.cache_write_tokens,
                "cache_read_input_tokens": envelope.cache_read_tokens,
                "cache_creation": {"ephemeral_5m_input_tokens": envelope.cache_write_tokens, "ephemeral_1h_input_tokens": 0},
                "output_tokens": envelope.output_tokens,
                "service_tier": "standard",
            },
        }),
    }
}
