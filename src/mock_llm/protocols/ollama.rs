//! Ollama `/api/chat`, server side: the request checks (streaming must be off) and its responses.

use serde_json::{json, Map, Value};

use super::*;

pub(super) fn parse_ollama(object: &Map<String, Value>) -> Result<Incoming, Rejection> {
    let model = required_str(object, "model", "model is required")?;
    if object.get("stream").and_then(Value::as_bool) != Some(false) {
        return Err(bad(
            "the mock answers only non-streaming requests: send \"stream\": false (Ollama streams by default)",
        ));
    }
    let messages = non_empty_array(object, "messages", "messages are required")?;
    let tool = exactly_one_tool(object, "tools")?;
    let name = tool
        .get("function")
        .and_then(|function| function.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| bad("tools[0].function.name is required"))?;
    if object.get("format").is_some_and(|format| !format.is_null()) {
        return Err(bad(
            "\"format\" and \"tools\" were both sent: Ollama constrains the output to the format and never calls the tool",
        ));
    }
    let mut seen_user = false;
    let mut repair_turns = 0;
    for message in messages {
        match role(message) {
            Some("user") => seen_user = true,
            Some("assistant") if seen_user => repair_turns += 1,
            _ => {}
        }
    }
    let max_output_tokens = object
        .get("options")
        .and_then(|options| options.get("num_predict"))
        .and_then(Value::as_u64);
    Ok(Incoming {
        model: model.to_string(),
        tool_name: name.to_string(),
        user_text: first_user_text(messages, "messages")?,
        repair_turns,
        max_output_tokens,
        tool_required: true,
    })
}

pub(super) fn ollama_success(envelope: &Envelope, answer: &Answer) -> Reply {
    let (message, done_reason) = match answer {
        Answer::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
        Answer::Calls { calls, truncated } => {
            let tool_calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    json!({
                        "id": format!("call_{}", envelope.id(&format!("call{index}"), IdAlphabet::LowerHex, 8)),
                        "function": {"index": index, "name": call.name, "arguments": call.args.as_object_value()},
                    })
                })
                .collect();
            (
                json!({"role": "assistant", "content": "", "tool_calls": tool_calls}),
                if *truncated { "length" } else { "stop" },
            )
        }
    };
    // Durations are nanoseconds; plausible rates for a small local model.
    let prompt_ns = envelope.input_tokens.saturating_mul(200_000);
    let eval_ns = envelope.output_tokens.saturating_mul(20_000_000);
    Reply {
        status: 200,
        headers: Vec::new(),
        body: json!({
            "model": envelope.model,
            "created_at": envelope.rfc3339,
            "message": message,
            "done": true,
            "done_reason": done_reason,
            "total_duration": prompt_ns.saturating_add(eval_ns).saturating_add(1_000_000),
            "load_duration": 1_000_000,
            "prompt_eval_count": envelope.input_tokens,
            "prompt_eval_duration": prompt_ns,
            "eval_count": envelope.output_tokens,
            "eval_duration": eval_ns,
        }),
    }
}
