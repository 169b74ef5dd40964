//! Gemini `generateContent`, server side: the request checks (schema subset, thought signatures) and its responses.

use serde_json::{json, Map, Value};

use super::*;

/// A field by its JSON name, or by its proto name: the REST API accepts both spellings.
pub(super) fn field<'a>(object: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    object.get(camel).or_else(|| object.get(snake))
}

/// Keywords of the OpenAPI-3.0 `Schema` subset that `parameters` accepts (proto `Schema`);
/// anything else is a hard 400 on the real API.
pub(super) const GEMINI_SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "items",
    "properties",
    "required",
    "minItems",
    "maxItems",
    "min_items",
    "max_items",
    "minProperties",
    "maxProperties",
    "min_properties",
    "max_properties",
    "minLength",
    "maxLength",
    "min_length",
    "max_length",
    "pattern",
    "minimum",
    "maximum",
    "example",
    "anyOf",
    "any_of",
    "propertyOrdering",
    "property_ordering",
    "default",
];

pub(super) const GEMINI_TYPES: &[&str] = &[
    "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL",
];

/// Schema nesting deeper than this is refused: the walk is recursive and bodies are untrusted.
pub(super) const MAX_SCHEMA_DEPTH: usize = 32;

pub(super) fn check_gemini_schema(
    schema: &Value,
    path: &str,
    depth: usize,
) -> Result<(), Rejection> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(bad(format!("{path}: schema nested too deeply")));
    }
    let Some(object) = schema.as_object() else {
        return Err(bad(format!(
            "Invalid value at '{path}': expected a Schema object"
        )));
    };
    for (key, value) in object {
        if !GEMINI_SCHEMA_KEYS.contains(&key.as_str()) {
            return Err(bad(format!(
                "Invalid JSON payload received. Unknown name \"{key}\" at '{path}': Cannot find field."
            )));
        }
        match key.as_str() {
            "type" => {
                let known = value
                    .as_str()
                    .is_some_and(|name| GEMINI_TYPES.contains(&name.to_ascii_uppercase().as_str()));
                if value.is_array() {
                    return Err(bad(format!(
                        "Invalid JSON payload received. Proto field is not repeating, cannot start list. (at '{path}.type')"
                    )));
                }
                if !known {
                    return Err(bad(format!(
                        "Invalid value at '{path}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), {}",
                        compact(value)
                    )));
                }
            }
            "properties" => {
                let properties = value.as_object().ok_or_else(|| {
                    bad(format!(
                        "Invalid value at '{path}.properties': expected an object"
                    ))
                })?;
                for (name, property) in properties {
                    check_gemini_schema(
                        property,
                        &format!("{path}.properties[{name}]"),
                        depth + 1,
                    )?;
                }
            }
            "items" => check_gemini_schema(value, &format!("{path}.items"), depth + 1)?,
            "anyOf" | "any_of" => {
                let options = value.as_array().ok_or_else(|| {
                    bad(format!("Invalid value at '{path}.any_of': expected a list"))
                })?;
                for (index, option) in options.iter().enumerate() {
                    check_gemini_schema(option, &format!("{path}.any_of[{index}]"), depth + 1)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

pub(super) fn parse_gemini(
    object: &Map<String, Value>,
    meta: &RequestMeta,
) -> Result<Incoming, Rejection> {
    let model = meta
        .path_model
        .clone()
        .ok_or_else(|| bad("the model is missing from the path"))?;
    let contents = non_empty_array(
        object,
        "contents",
        "* GenerateContentRequest.contents: contents is not specified",
    )?;
    let body = Value::Object(object.clone());
    let mut declarations: Vec<&Value> = Vec::new();
    let mut other_tools = 0;
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        for tool in tools {
            match field(tool, "functionDeclarations", "function_declarations")
                .and_then(Value::as_array)
            {
                Some(list) => declarations.extend(list),
                None => other_tools += 1,
            }
        }
    }
    if declarations.len() != 1 || other_tools > 0 {
        return Err(bad(format!(
            "tools: the request must offer exactly one function declaration (periodize forces one tool per request), found {} declaration(s) and {other_tools} other tool(s)",
            declarations.len()
        )));
    }
    let declaration = declarations[0];
    let name = declaration
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            bad("* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot be empty.")
        })?;
    let parameters = declaration.get("parameters");
    let json_schema = field(
        declaration,
        "parametersJsonSchema",
        "parameters_json_schema",
    );
    if parameters.is_some() && json_schema.is_some() {
        return Err(bad(
            "* GenerateContentRequest.tools[0].function_declarations[0]: parameters and parameters_json_schema are mutually exclusive",
        ));
    }
    if let Some(schema) = parameters {
        check_gemini_schema(schema, "tools[0].function_declarations[0].parameters", 0)?;
    }
    let config = field(&body, "toolConfig", "tool_config")
        .and_then(|config| field(config, "functionCallingConfig", "function_calling_config"));
    let mode = config.and_then(|c| c.get("mode")).and_then(Value::as_str);
    let allowed = config
        .and_then(|c| field(c, "allowedFunctionNames", "allowed_function_names"))
        .and_then(Value::as_array);
    let forced = mode == Some("ANY")
        && allowed.is_some_and(|names| names.len() == 1 && names[0].as_str() == Some(name));
    if !forced {
        return Err(bad(format!(
            "toolConfig.functionCallingConfig must force the offered function: {{\"mode\": \"ANY\", \"allowedFunctionNames\": [\"{name}\"]}}, found {}",
            found(config)
        )));
    }
    let repair_turns = check_gemini_turns(contents)?;
    let (index, first) = contents
        .iter()
        .enumerate()
        .find(|(_, content)| matches!(role(content), None | Some("user")))
        .ok_or_else(|| bad("contents: there is no user content"))?;
    let texts: Vec<&str> = first
        .get("parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if texts.is_empty() {
        return Err(bad(format!(
            "contents[{index}].parts: the first user content has no text"
        )));
    }
    let max_output_tokens = field(&body, "generationConfig", "generation_config")
        .and_then(|config| field(config, "maxOutputTokens", "max_output_tokens"))
        .and_then(Value::as_u64);
    Ok(Incoming {
        model,
        tool_name: name.to_string(),
        user_text: texts.join("\n"),
        repair_turns,
        max_output_tokens,
        tool_required: true,
    })
}

pub(super) fn parts(content: &Value) -> &[Value] {
    content
        .get("parts")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(super) fn count_parts(content: &Value, camel: &str, snake: &str) -> usize {
    parts(content)
        .iter()
        .filter(|part| field(part, camel, snake).is_some())
        .count()
}

/// Roles are `user` and `model`; a model turn's first `functionCall` part carries the
/// `thoughtSignature` it came with; the next user turn answers every call in one content.
pub(super) fn check_gemini_turns(contents: &[Value]) -> Result<usize, Rejection> {
    const COUNT: &str = "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.";
    let mut repair_turns = 0;
    let mut previous_calls = 0;
    for (index, content) in contents.iter().enumerate() {
        let responses = count_parts(content, "functionResponse", "function_response");
        match role(content) {
            None | Some("user") => {
                if responses != previous_calls {
                    return Err(bad(COUNT));
                }
                previous_calls = 0;
            }
            Some("model") => {
                if previous_calls > 0 || responses > 0 {
                    return Err(bad(COUNT));
                }
                repair_turns += 1;
                let calls: Vec<&Value> = parts(content)
                    .iter()
                    .filter(|part| field(part, "functionCall", "function_call").is_some())
                    .collect();
                if let Some(first) = calls.first() {
                    let signed = field(first, "thoughtSignature", "thought_signature")
                        .and_then(Value::as_str)
                        .is_some_and(|signature| !signature.is_empty());
                    if !signed {
                        let name = field(first, "functionCall", "function_call")
                            .and_then(|call| call.get("name"))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        return Err(bad(format!(
                            "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:{name}` , position {}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                            index + 1
                        )));
                    }
                }
                previous_calls = calls.len();
            }
            Some(_) => return Err(bad("Please use a valid role: user, model.")),
        }
    }
    if previous_calls > 0 {
        return Err(bad(COUNT));
    }
    Ok(repair_turns)
}

pub(super) fn gemini_success(envelope: &Envelope, answer: &Answer) -> Reply {
    let signature = format!("Cq4B{}", envelope.id("sig", IdAlphabet::Base64, 92));
    let (parts, finish_reason) = match answer {
        // Without a call, the signature sits on the last part (thought-signature docs).
        Answer::Text(text) => (
            vec![json!({"text": text, "thoughtSignature": signature})],
            "STOP",
        ),
        Answer::Calls { calls, truncated } => (
            calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    let mut part = json!({
                        "functionCall": {"name": call.name, "args": call.args.as_object_value()},
                    });
                    // In a parallel batch only the first call carries the signature.
                    if index == 0 {
                        part["thoughtSignature"] = Value::from(signature.as_str());
                    }
                    part
                })
                .collect(),
            if *truncated { "MAX_TOKENS" } else { "STOP" },
        ),
    };
    Reply {
        status: 200,
        headers: Vec::new(),
        body: json!({
            "candidates": [{
                "content": {"role": "model", "parts": parts},
                "finishReason": finish_reason,
                "index": 0,
            }],
            "usageMetadata": {
                "promptTokenCount": envelope.input_tokens,
                "candidatesTokenCount": envelope.output_tokens,
                "totalTokenCount": envelope.input_tokens + envelope.output_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": envelope.input_tokens}],
                "cachedContentTokenCount": envelope.cache_read_tokens,
            },
            "modelVersion": envelope.model,
            "responseId": envelope.id("response", IdAlphabet::Base62, 22),
        }),
    }
}
