//! OpenAI Chat Completions, server side: the request checks of `/v1/chat/completions` and its responses.

use serde_json::{json, Map, Value};

use super::*;

pub(super) fn parse_openai(
    object: &Map<String, Value>,
    quirks: &[Quirk],
) -> Result<Incoming, Rejection> {
    let quirk = |quirk| faults::has(quirks, quirk, Protocol::OpenAi);
    let model = required_str(object, "model", "you must provide a model parameter")?;
    let messages = non_empty_array(object, "messages", "[] is too short - 'messages'")?;
    if object.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(bad(
            "stream: the mock answers only non-streaming requests (\"stream\": false or absent)",
        ));
    }
    let tool = exactly_one_tool(object, "tools")?;
    if tool.get("type").and_then(Value::as_str) != Some("function") {
        return Err(bad(format!(
            "tools[0].type: expected 'function', found {}",
            found(tool.get("type"))
        )));
    }
    let name = tool
        .get("function")
        .and_then(|function| function.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| bad("Missing required parameter: 'tools[0].function.name'."))?;
    let choice = object.get("tool_choice");
    // `exactly_one_tool` checked the offer, so "required" forces this tool too.
    let by_string = choice.and_then(Value::as_str) == Some("required");
    let by_object = choice.and_then(|c| c.get("type")).and_then(Value::as_str) == Some("function")
        && choice
            .and_then(|c| c.get("function"))
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            == Some(name);
    // llama.cpp reads the choice as a string only: an object falls back to "auto".
    let tool_required = by_string || by_object && !quirk(Quirk::StringToolChoice);
    if !by_string && !by_object {
        return Err(bad(format!(
            "tool_choice must force the offered tool: \"required\" or {{\"type\": \"function\", \"function\": {{\"name\": \"{name}\"}}}}, found {}",
            found(choice)
        )));
    }
    let repair_turns = check_openai_turns(messages)?;
    Ok(Incoming {
        model: model.to_string(),
        tool_name: name.to_string(),
        user_text: first_user_text(messages, "messages")?,
        repair_turns,
        max_output_tokens: if quirk(Quirk::MaxTokensOnly) {
            max_tokens(object, &["max_tokens"])
        } else {
            max_tokens(object, &["max_completion_tokens", "max_tokens"])
        },
        tool_required,
    })
}

/// An assistant message with `tool_calls` is followed by one `tool` message per call id, and
/// a `tool` message answers a call of the assistant message before it: the API's 400s.
pub(super) fn check_openai_turns(messages: &[Value]) -> Result<usize, Rejection> {
    let unanswered = |ids: &[String]| {
        bad(format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
            ids.join(", ")
        ))
    };
    // Some(ids) right after an assistant message with calls, until a non-tool message.
    let mut open: Option<Vec<String>> = None;
    let mut seen_user = false;
    let mut repair_turns = 0;
    for (index, message) in messages.iter().enumerate() {
        let role = role(message);
        if role == Some("tool") {
            let id = message
                .get("tool_call_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match open.as_mut() {
                Some(ids) if ids.iter().any(|open_id| open_id == id) => {
                    ids.retain(|open_id| open_id != id);
                }
                _ => {
                    return Err(bad(format!(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. (messages.[{index}].tool_call_id {id:?})"
                    )))
                }
            }
            continue;
        }
        if let Some(ids) = open.take() {
            if !ids.is_empty() {
                return Err(unanswered(&ids));
            }
        }
        match role {
            Some("system" | "developer") => {}
            Some("user") => seen_user = true,
            Some("assistant") => {
                if seen_user {
                    repair_turns += 1;
                }
                let ids: Vec<String> = message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .map(|calls| {
                        calls
                            .iter()
                            .map(|call| {
                                call.get("id")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if !ids.is_empty() {
                    open = Some(ids);
                }
            }
            other => {
                return Err(bad(format!(
                    "Invalid value: {} for messages[{index}].role. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.",
                    found(other.map(Value::from).as_ref())
                )))
            }
        }
    }
    match open {
        Some(ids) if !ids.is_empty() => Err(unanswered(&ids)),
        _ => Ok(repair_turns),
    }
}

pub(super) fn openai_success(envelope: &Envelope, answer: &Answer) -> Reply {
    let (message, finish_reason) = match answer {
        Answer::Text(text) => (
            json!({"role": "assistant", "content": text, "refusal": null, "annotations": []}),
            "stop",
        ),
        Answer::Calls { calls, truncated } => {
            let tool_calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    json!({
                        "id": format!("call_{}", envelope.id(&format!("call{index}"), IdAlphabet::Base62, 24)),
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.args.text()},
                    })
                })
                .collect();
            (
                json!({"role": "assistant", "content": null, "refusal": null, "annotations": [], "tool_calls": tool_calls}),
                // Forced by name, OpenAI reports "stop", not "tool_calls" (guide §3.5).
                if *truncated { "length" } else { "stop" },
            )
        }
    };
    Reply {
        status: 200,
        headers: vec![
            (
                "x-request-id",
                format!("req_{}", envelope.id("req", IdAlphabet::LowerHex, 32)),
            ),
            ("openai-processing-ms", "1".to_string()),
        ],
        body: json!({
            "id": format!("chatcmpl-{}", envelope.id("chatcmpl", IdAlphabet::Base62, 29)),
            "object": "chat.completion",
            "created": envelope.unix_time,
            "model": envelope.model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
            "usage": {
                "prompt_tokens": envelope.input_tokens,
                "completion_tokens": envelope.output_tokens,
                "total_tokens": envelope.input_tokens + envelope.output_tokens,
                "prompt_tokens_details": {"cached_tokens": envelope.cache_read_tokens, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
            },
            "service_tier": "default",
            "system_fingerprint": "fp_periodize_mock",
        }),
    }
}
