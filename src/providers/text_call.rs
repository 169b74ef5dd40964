//! Tool calls a model wrote into its answer text: `<tool_call>{"name": …, "arguments": …}
//! </tool_call>`, as Hermes and Qwen chat templates make it write them (possibly after some
//! prose). A server that does not parse the template's output (an OpenAI-compatible server
//! without a tool-call parser, an Ollama template it does not know) hands them over as text;
//! the OpenAI and Ollama decoders read them here. Pure.

use serde_json::Value;

use crate::llm::ToolCall;

const OPEN: &str = "<tool_call>";

/// Every call of `tool_name` written in `text`, in order. A block counts when it opens with
/// `<tool_call>` and then holds one JSON object naming `tool_name`, with its arguments as an
/// object or as JSON text in `arguments` (or `parameters`, the Llama 3 spelling); the closing
/// tag may be missing (a stop sequence can eat it), and text after the object is ignored. A
/// block naming another tool, or holding no such object, is no call: the answer stays refused
/// as an answer without one.
pub(crate) fn calls(text: &str, tool_name: &str) -> Vec<ToolCall> {
    text.match_indices(OPEN)
        .filter_map(|(at, _)| call(&text[at + OPEN.len()..], tool_name))
        .collect()
}

fn call(block: &str, tool_name: &str) -> Option<ToolCall> {
    let value = serde_json::Deserializer::from_str(block)
        .into_iter::<Value>()
        .next()?
        .ok()?;
    if value.get("name").and_then(Value::as_str) != Some(tool_name) {
        return None;
    }
    let arguments = match value.get("arguments").or_else(|| value.get("parameters"))? {
        Value::String(text) => text.clone(),
        object @ Value::Object(_) => object.to_string(),
        _ => return None,
    };
    Some(ToolCall {
        id: String::new(),
        name: tool_name.to_string(),
        arguments,
        signature: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOL: &str = "add_week_details";

    fn arguments(text: &str) -> Vec<String> {
        calls(text, TOOL)
            .into_iter()
            .map(|call| {
                assert_eq!((call.id.as_str(), call.name.as_str()), ("", TOOL));
                call.arguments
            })
            .collect()
    }

    #[test]
    fn a_call_after_prose_is_read_with_object_or_string_arguments() {
        let object = "Here is week 1.\n<tool_call>\n{\"name\": \"add_week_details\", \"arguments\": {\"week_number\": 1}}\n</tool_call>";
        assert_eq!(arguments(object), [r#"{"week_number":1}"#]);
        let string = r#"<tool_call>{"name": "add_week_details", "arguments": "{\"week_number\": 1}"}</tool_call>"#;
        assert_eq!(arguments(string), [r#"{"week_number": 1}"#]);
        let llama = r#"<tool_call>{"name": "add_week_details", "parameters": {"week_number": 2}}"#;
        assert_eq!(arguments(llama), [r#"{"week_number":2}"#], "no closing tag");
        let trailing =
            r#"<tool_call>{"name": "add_week_details", "arguments": {}} and that is all"#;
        assert_eq!(arguments(trailing), ["{}"]);
    }

    #[test]
    fn every_block_of_the_tool_counts_and_nothing_else_does() {
        let two = r#"<tool_call>{"name": "add_week_details", "arguments": {}}</tool_call><tool_call>{"name": "add_week_details", "arguments": {"a": 1}}</tool_call>"#;
        assert_eq!(arguments(two), ["{}", r#"{"a":1}"#]);
        for text in [
            "Here is the plan: ride on Tuesday.",
            r#"<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>"#,
            r#"<tool_call>{"name": "add_week_details", "arguments": [1]}</tool_call>"#,
            r#"<tool_call>{"name": "add_week_details"}</tool_call>"#,
            r#"<tool_call>{"name": "add_week_details", "arguments": {"#,
            "<tool_call>add_week_details(week_number=1)</tool_call>",
            r#"{"name": "add_week_details", "arguments": {}}"#,
        ] {
            assert!(calls(text, TOOL).is_empty(), "{text}");
        }
    }
}
