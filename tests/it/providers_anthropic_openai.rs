//! The Anthropic and OpenAI protocols against vendor data: recorded Anthropic exchanges and the
//! OpenAI example decoded and classified, snapshots of the encoded requests, and our OpenAI
//! requests checked against the vendor's `CreateChatCompletionRequest` schema. No network.

use std::collections::BTreeSet;

use expect_test::{expect, Expect};
use periodize::domain::profile::{parse_profile, AthleteProfile};
use periodize::domain::validate::Rules;
use periodize::llm::{
    ModelFailure, ModelOutcome, PriorReply, RepairTurn, StepBrief, StepId, ToolCall, ToolRequest,
    Usage,
};
use periodize::providers::http::HttpReply;
use periodize::providers::{anthropic, openai};
use periodize::tools::{overview_tool, week_tool};
use serde_json::{json, Map, Value};

use crate::support::fixture;

fn read_json(name: &str) -> Value {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("parse {}: {err}", path.display()))
}

/// Exchange `index` of a recorded Anthropic file: its request body and its response as the
/// `HttpReply` that `http.rs` would build (header names lowercased, the body as bytes).
fn recorded(file: &str, index: usize) -> (Value, HttpReply) {
    let exchanges = read_json(&format!("anthropic/{file}"));
    let exchange = &exchanges[index];
    let response = &exchange["response"];
    let headers = response["headers"]
        .as_object()
        .expect("recorded headers")
        .iter()
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                value.as_str().expect("a header value").to_string(),
            )
        })
        .collect();
    let reply = HttpReply {
        status: response["status_code"].as_u64().expect("a status") as u16,
        headers,
        body: serde_json::to_vec(&response["body"]).expect("a JSON body"),
        request_bytes: 0,
    };
    (exchange["request"]["body"].clone(), reply)
}

fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
    }
}

fn weather_call(id: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: "get_weather".into(),
        arguments: arguments.into(),
        signature: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Anthropic: recorded exchanges

#[test]
fn anthropic_recorded_tool_use_is_the_call_with_its_usage() {
    let (_, reply) = recorded("tool_use_then_orphan_tool_result_400.json", 0);
    let decoded = anthropic::decode(&reply, "get_weather");
    assert_eq!(
        decoded.outcome,
        ModelOutcome::Call(weather_call(
            "toolu_01GHndag5wQmbzNihYmV2UBj",
            r#"{"location":"San Francisco, CA","units":"c"}"#
        ))
    );
    assert_eq!(decoded.usage, usage(659, 74));
}

#[test]
fn anthropic_recorded_orphan_tool_result_400_is_fatal() {
    let (_, reply) = recorded("tool_use_then_orphan_tool_result_400.json", 1);
    let decoded = anthropic::decode(&reply, "get_weather");
    assert_eq!(
        decoded.outcome,
        ModelOutcome::Failed(ModelFailure::Fatal {
            message: "anthropic 400 invalid_request_error: messages.0.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01GHndag5wQmbzNihYmV2UBj. Each `tool_result` block must have a corresponding `tool_use` block in the previous message. (request_id req_011CYHyk9NPsBYeGbC9LuDNK)".into()
        })
    );
    assert_eq!(decoded.usage, Usage::default());
}

#[test]
fn anthropic_recorded_429s_are_transient_and_honour_retry_after() {
    for index in [0, 1] {
        let (_, mut reply) = recorded("rate_limit_429_twice_then_200.json", index);
        let ModelOutcome::Failed(ModelFailure::Transient {
            message,
            retry_after_ms,
        }) = anthropic::decode(&reply, "extract").outcome
        else {
            panic!("a recorded 429 with x-should-retry: true is transient");
        };
        assert!(
            message.starts_with("anthropic 429 rate_limit_error: This request would exceed your organization's rate limit"),
            "{message}"
        );
        assert!(message.ends_with(")"), "the request id is named: {message}");
        assert_eq!(retry_after_ms, None, "the recording has no retry-after");
        // The same reply with the hints the API sends on most 429s.
        reply.headers.push(("retry-after".into(), "7".into()));
        assert!(matches!(
            anthropic::decode(&reply, "extract").outcome,
            ModelOutcome::Failed(ModelFailure::Transient {
                retry_after_ms: Some(7000),
                ..
            })
        ));
        reply.headers.push(("retry-after-ms".into(), "6500".into()));
        assert!(matches!(
            anthropic::decode(&reply, "extract").outcome,
            ModelOutcome::Failed(ModelFailure::Transient {
                retry_after_ms: Some(6500),
                ..
            })
        ));
    }
    // The 200 that followed answered with text (structured output, no tool): not a call.
    let (_, reply) = recorded("rate_limit_429_twice_then_200.json", 2);
    let decoded = anthropic::decode(&reply, "extract");
    assert_eq!(
        decoded.outcome,
        ModelOutcome::Failed(ModelFailure::Malformed {
            message: "the reply has no tool call (stop_reason end_turn)".into(),
            reply: PriorReply::Text(r#"{"items":[{"product_name":"Green Tea","price":5.50,"quantity":2},{"product_name":"Coffee","price":3.00,"quantity":1}],"total":14.0}"#.into()),
        })
    );
    assert_eq!(decoded.usage, usage(406, 50));
}

#[test]
fn anthropic_recorded_is_error_exchange_round_trips_through_our_repair_turn() {
    let (first_request, reply) = recorded("tool_use_then_tool_result_is_error.json", 0);
    let ModelOutcome::Call(call) = anthropic::decode(&reply, "get_weather").outcome else {
        panic!("the first reply is a call");
    };
    assert_eq!(
        call,
        weather_call(
            "toolu_01A9HHF5Ezy3oBrKmSgfASm9",
            r#"{"location":"San Francisco, CA","units":"f"}"#
        )
    );
    // Answering that call with an error, as the SDK did, gives the recorded second request's
    // messages (less the `caller` the SDK echoes back, which the API fills in itself).
    let (second_request, second_reply) = recorded("tool_use_then_tool_result_is_error.json", 1);
    let mut request = week_request(vec![RepairTurn {
        reply: PriorReply::Call(call),
        feedback: "RuntimeError('Unexpected error, try again')".into(),
    }]);
    request.user = first_request["messages"][0]["content"]
        .as_str()
        .expect("a text prompt")
        .into();
    let ours = anthropic::encode(&request, "claude-haiku-4-5");
    let mut theirs = second_request["messages"].clone();
    theirs[1]["content"][0]
        .as_object_mut()
        .expect("a block")
        .remove("caller");
    assert_eq!(ours["messages"], theirs);
    // The model then apologised in text: no call, so malformed, with the text kept for the
    // next repair turn.
    let decoded = anthropic::decode(&second_reply, "get_weather");
    let ModelOutcome::Failed(ModelFailure::Malformed {
        reply: PriorReply::Text(text),
        ..
    }) = decoded.outcome
    else {
        panic!("a text answer is malformed");
    };
    assert!(text.starts_with("I apologize, but I'm getting an error"));
    assert_eq!(decoded.usage, usage(760, 63));
}

#[test]
fn anthropic_recorded_text_before_the_call_is_ignored() {
    let (_, reply) = recorded("text_plus_tool_use_then_plain_request.json", 0);
    let decoded = anthropic::decode(&reply, "submit_analysis");
    let ModelOutcome::Call(call) = decoded.outcome else {
        panic!("text plus one call is the call");
    };
    assert_eq!(call.id, "toolu_01KiHQYXfTgCmpgRfmqgvUL2");
    assert!(call
        .arguments
        .starts_with(r#"{"summary":"This comprehensive essay"#));
    assert_eq!(decoded.usage, usage(617, 995));
}

#[test]
fn anthropic_recorded_server_tool_blocks_are_not_calls() {
    // A server tool (code execution) block sits before the one client call.
    let (_, reply) = recorded("programmatic_tool_call_with_ratelimit_headers.json", 0);
    let decoded = anthropic::decode(&reply, "get_weather");
    assert_eq!(
        decoded.outcome,
        ModelOutcome::Call(weather_call(
            "toolu_011MDRpaZRMRRjtFkJizD6nS",
            r#"{"location":"San Francisco, CA","units":"c"}"#
        ))
    );
    assert_eq!(decoded.usage, usage(3182, 237));
    // A reply with only the required usage fields, all zero.
    let (_, reply) = recorded("programmatic_tool_call_with_ratelimit_headers.json", 1);
    let decoded = anthropic::decode(&reply, "get_weather");
    assert!(
        matches!(decoded.outcome, ModelOutcome::Call(call) if call.id == "toolu_01RXQDRjwv5Un7n98xFahjo8")
    );
    assert_eq!(decoded.usage, Usage::default());
    // Web search results and text, no client call: malformed, the text kept.
    let (_, reply) = recorded("server_web_search_tool.json", 0);
    let decoded = anthropic::decode(&reply, "get_weather");
    let ModelOutcome::Failed(ModelFailure::Malformed {
        message,
        reply: PriorReply::Text(text),
    }) = decoded.outcome
    else {
        panic!("no client call is malformed");
    };
    assert_eq!(message, "the reply has no tool call (stop_reason end_turn)");
    assert!(!text.is_empty());
    assert_eq!(decoded.usage, usage(11306, 163));
}

// ---------------------------------------------------------------------------------------------
// OpenAI: the vendor example

#[test]
fn openai_vendor_example_response_is_the_call_with_its_usage() {
    let body = read_json("openai/chat_completions_functions.response.json");
    let reply = |body: &Value| HttpReply {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(body).expect("a JSON body"),
        request_bytes: 0,
    };
    let expected = ModelOutcome::Call(ToolCall {
        id: "call_abc123".into(),
        name: "get_current_weather".into(),
        arguments: "{\n\"location\": \"Boston, MA\"\n}".into(),
        signature: None,
    });
    let decoded = openai::decode(&reply(&body), "get_current_weather");
    assert_eq!(decoded.outcome, expected);
    assert_eq!(decoded.usage, usage(82, 17));
    // A call forced by name comes back with "stop", not "tool_calls": still the call.
    let mut forced = body.clone();
    forced["choices"][0]["finish_reason"] = json!("stop");
    assert_eq!(
        openai::decode(&reply(&forced), "get_current_weather").outcome,
        expected
    );
    // Cut by the token limit: never executed.
    let mut cut = body.clone();
    cut["choices"][0]["finish_reason"] = json!("length");
    assert!(matches!(
        openai::decode(&reply(&cut), "get_current_weather").outcome,
        ModelOutcome::Failed(ModelFailure::Malformed {
            reply: PriorReply::Call(_),
            ..
        })
    ));
    // Cut with no call at all: the feedback says no call was made.
    let mut prose = body.clone();
    prose["choices"][0]["finish_reason"] = json!("length");
    prose["choices"][0]["message"]["tool_calls"] = json!(null);
    prose["choices"][0]["message"]["content"] =
        json!("Let me think about the weather in detail...");
    let ModelOutcome::Failed(ModelFailure::Malformed {
        message,
        reply: prior,
    }) = openai::decode(&reply(&prose), "get_current_weather").outcome
    else {
        panic!("a cut reply is malformed")
    };
    assert!(
        message.contains("no call of get_current_weather was made"),
        "{message}"
    );
    assert!(matches!(prior, PriorReply::Text(_)));
    // Another tool name than the one offered.
    assert!(matches!(
        openai::decode(&reply(&body), "create_plan_overview").outcome,
        ModelOutcome::Failed(ModelFailure::Malformed { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Requests: our encodings

fn profile() -> AthleteProfile {
    let path = fixture("profiles/athlete.json");
    let text = std::fs::read_to_string(&path).expect("read the athlete profile");
    parse_profile(&text).expect("the fixture profile is valid")
}

fn brief(step: StepId) -> StepBrief {
    StepBrief {
        step,
        profile: profile(),
        total_weeks: 12,
        event: None,
        rules: Rules::default(),
        overview: None,
    }
}

/// The overview request of a 12-week plan, first attempt.
fn overview_request() -> ToolRequest {
    ToolRequest {
        system: "You are an experienced cycling coach. Answer only by calling the tool.".into(),
        user: "Plan 12 weeks for Marta Ruiz: FTP 232 W, 8 hours a week, a hilly 120 km gran fondo."
            .into(),
        tool: overview_tool(12),
        repair_turns: Vec::new(),
        max_output_tokens: 16000,
        brief: brief(StepId::Overview),
        shared_prefix_bytes: 0,
    }
}

fn week_request(repair_turns: Vec<RepairTurn>) -> ToolRequest {
    ToolRequest {
        system: "You are an experienced cycling coach. Answer only by calling the tool.".into(),
        user: "Detail week 1: Build, Tuesday, Thursday, Saturday and Sunday, 7 hours, TSS 400."
            .into(),
        tool: week_tool(),
        repair_turns,
        max_output_tokens: 8000,
        brief: brief(StepId::Week(1)),
        shared_prefix_bytes: 0,
    }
}

/// The week 1 request after two refused answers: a call that failed validation, then text.
fn repaired_week_request(call_id: &str) -> ToolRequest {
    week_request(vec![
        RepairTurn {
            reply: PriorReply::Call(ToolCall {
                id: call_id.into(),
                name: "add_week_details".into(),
                arguments: r#"{"week_number": 1, "workouts": []}"#.into(),
                signature: None,
            }),
            feedback: "week 1 must have one workout on each training day (Tuesday, Thursday, Saturday, Sunday); found 0".into(),
        },
        RepairTurn {
            reply: PriorReply::Text("I will now plan week 1.".into()),
            feedback: "the reply has no tool call. Call the tool add_week_details exactly once, with complete JSON arguments for week 1.".into(),
        },
    ])
}

/// Pretty JSON of a request body, with the tool's JSON Schema (owned and tested by `tools.rs`)
/// checked to be sent unchanged at `pointer` and shown as a placeholder, so that the snapshot
/// shows the protocol.
fn snapshot(mut body: Value, pointer: &str, request: &ToolRequest, expect: Expect) {
    let schema = body.pointer_mut(pointer).expect("the tool schema");
    assert_eq!(
        *schema, *request.tool.parameters,
        "the schema is sent as it is"
    );
    *schema = json!(format!("<the {} schema>", request.tool.name));
    let text = serde_json::to_string_pretty(&body).expect("JSON always prints");
    expect.assert_eq(&text);
}

#[test]
fn anthropic_first_request_snapshot() {
    let request = overview_request();
    snapshot(
        anthropic::encode(&request, anthropic::DEFAULT_MODEL),
        "/tools/0/input_schema",
        &request,
        expect![[r#"
            {
              "max_tokens": 16000,
              "messages": [
                {
                  "content": "Plan 12 weeks for Marta Ruiz: FTP 232 W, 8 hours a week, a hilly 120 km gran fondo.",
                  "role": "user"
                }
              ],
              "model": "claude-sonnet-4-5",
              "system": [
                {
                  "cache_control": {
                    "type": "ephemeral"
                  },
                  "text": "You are an experienced cycling coach. Answer only by calling the tool.",
                  "type": "text"
                }
              ],
              "tool_choice": {
                "disable_parallel_tool_use": true,
                "name": "create_plan_overview",
                "type": "tool"
              },
              "tools": [
                {
                  "description": "Record the week-by-week overview of the training plan: one entry per week with its phase, focus, training days, target TSS and hours.",
                  "input_schema": "<the create_plan_overview schema>",
                  "name": "create_plan_overview"
                }
              ]
            }"#]],
    );
}

#[test]
fn anthropic_repair_request_snapshot() {
    let request = repaired_week_request("toolu_01A");
    snapshot(
        anthropic::encode(&request, anthropic::DEFAULT_MODEL),
        "/tools/0/input_schema",
        &request,
        expect![[r#"
            {
              "max_tokens": 8000,
              "messages": [
                {
                  "content": "Detail week 1: Build, Tuesday, Thursday, Saturday and Sunday, 7 hours, TSS 400.",
                  "role": "user"
                },
                {
                  "content": [
                    {
                      "id": "toolu_01A",
                      "input": {
                        "week_number": 1,
                        "workouts": []
                      },
                      "name": "add_week_details",
                      "type": "tool_use"
                    }
                  ],
                  "role": "assistant"
                },
                {
                  "content": [
                    {
                      "content": "week 1 must have one workout on each training day (Tuesday, Thursday, Saturday, Sunday); found 0",
                      "is_error": true,
                      "tool_use_id": "toolu_01A",
                      "type": "tool_result"
                    }
                  ],
                  "role": "user"
                },
                {
                  "content": "I will now plan week 1.",
                  "role": "assistant"
                },
                {
                  "content": "the reply has no tool call. Call the tool add_week_details exactly once, with complete JSON arguments for week 1.",
                  "role": "user"
                }
              ],
              "model": "claude-sonnet-4-5",
              "system": [
                {
                  "cache_control": {
                    "type": "ephemeral"
                  },
                  "text": "You are an experienced cycling coach. Answer only by calling the tool.",
                  "type": "text"
                }
              ],
              "tool_choice": {
                "disable_parallel_tool_use": true,
                "name": "add_week_details",
                "type": "tool"
              },
              "tools": [
                {
                  "description": "Record the workouts of one week: exactly one workout on each training day of that week, built from segments in % of FTP.",
                  "input_schema": "<the add_week_details schema>",
                  "name": "add_week_details"
                }
              ]
            }"#]],
    );
}

#[test]
fn openai_first_request_snapshot() {
    let request = overview_request();
    snapshot(
        openai::encode(&request, openai::DEFAULT_MODEL, openai::DEFAULT_BASE_URL),
        "/tools/0/function/parameters",
        &request,
        expect![[r#"
            {
              "max_completion_tokens": 16000,
              "messages": [
                {
                  "content": "You are an experienced cycling coach. Answer only by calling the tool.",
                  "role": "system"
                },
                {
                  "content": "Plan 12 weeks for Marta Ruiz: FTP 232 W, 8 hours a week, a hilly 120 km gran fondo.",
                  "role": "user"
                }
              ],
              "model": "gpt-4.1",
              "parallel_tool_calls": false,
              "tool_choice": "required",
              "tools": [
                {
                  "function": {
                    "description": "Record the week-by-week overview of the training plan: one entry per week with its phase, focus, training days, target TSS and hours.",
                    "name": "create_plan_overview",
                    "parameters": "<the create_plan_overview schema>",
                    "strict": true
                  },
                  "type": "function"
                }
              ]
            }"#]],
    );
}

#[test]
fn openai_repair_request_snapshot() {
    let request = repaired_week_request("call_abc");
    snapshot(
        openai::encode(&request, openai::DEFAULT_MODEL, openai::DEFAULT_BASE_URL),
        "/tools/0/function/parameters",
        &request,
        expect![[r#"
            {
              "max_completion_tokens": 8000,
              "messages": [
                {
                  "content": "You are an experienced cycling coach. Answer only by calling the tool.",
                  "role": "system"
                },
                {
                  "content": "Detail week 1: Build, Tuesday, Thursday, Saturday and Sunday, 7 hours, TSS 400.",
                  "role": "user"
                },
                {
                  "content": null,
                  "role": "assistant",
                  "tool_calls": [
                    {
                      "function": {
                        "arguments": "{\"week_number\": 1, \"workouts\": []}",
                        "name": "add_week_details"
                      },
                      "id": "call_abc",
                      "type": "function"
                    }
                  ]
                },
                {
                  "content": "week 1 must have one workout on each training day (Tuesday, Thursday, Saturday, Sunday); found 0",
                  "role": "tool",
                  "tool_call_id": "call_abc"
                },
                {
                  "content": "I will now plan week 1.",
                  "role": "assistant"
                },
                {
                  "content": "the reply has no tool call. Call the tool add_week_details exactly once, with complete JSON arguments for week 1.",
                  "role": "user"
                }
              ],
              "model": "gpt-4.1",
              "parallel_tool_calls": false,
              "tool_choice": "required",
              "tools": [
                {
                  "function": {
                    "description": "Record the workouts of one week: exactly one workout on each training day of that week, built from segments in % of FTP.",
                    "name": "add_week_details",
                    "parameters": "<the add_week_details schema>",
                    "strict": true
                  },
                  "type": "function"
                }
              ]
            }"#]],
    );
}

// ---------------------------------------------------------------------------------------------
// OpenAI: requests against the vendor's request schema

/// A checker for the JSON Schema keywords `CreateChatCompletionRequest` uses (OpenAPI 3.1 with
/// 3.0's `nullable`), stricter than JSON Schema in one way: an object may only hold properties
/// some applicable schema declares, so a misspelt field fails instead of passing as an
/// unknown extra. A keyword it does not know stops the test rather than being skipped.
struct RequestSchema {
    schemas: Map<String, Value>,
}

impl RequestSchema {
    fn load() -> RequestSchema {
        let file = read_json("openai/create_chat_completion_request.schema.json");
        RequestSchema {
            schemas: file["components"]["schemas"]
                .as_object()
                .expect("components.schemas")
                .clone(),
        }
    }

    /// Every problem of `body` as a chat completion request.
    fn problems(&self, body: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        let root = json!({"$ref": "#/components/schemas/CreateChatCompletionRequest"});
        self.closed(body, &root, "request", &mut problems);
        problems
    }

    fn resolve(&self, reference: &Value) -> &Value {
        let reference = reference.as_str().expect("a $ref is a string");
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
        self.schemas
            .get(name)
            .unwrap_or_else(|| panic!("the subset lacks schema {name}"))
    }

    /// Checks `value` and that each of its properties was declared by some schema that applied.
    fn closed(&self, value: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
        let mut declared = BTreeSet::new();
        self.check(value, schema, path, problems, &mut declared);
        if let Some(object) = value.as_object() {
            for key in object.keys().filter(|key| !declared.contains(*key)) {
                problems.push(format!(
                    "{path}.{key} is not a property the schema declares"
                ));
            }
        }
    }

    fn check(
        &self,
        value: &Value,
        schema: &Value,
        path: &str,
        problems: &mut Vec<String>,
        declared: &mut BTreeSet<String>,
    ) {
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                problems.push(format!("{path}: no value is allowed here"));
                return;
            }
            Value::Object(schema) => schema,
            other => panic!("not a schema at {path}: {other}"),
        };
        if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        for (keyword, rule) in schema {
            match keyword.as_str() {
                "$ref" => self.check(value, self.resolve(rule), path, problems, declared),
                "type" => {
                    if !type_matches(value, rule) {
                        problems.push(format!("{path}: expected type {rule}, found {value}"));
                    }
                }
                "enum" => {
                    let allowed = rule.as_array().expect("enum is an array");
                    if !allowed.contains(value) {
                        problems.push(format!("{path}: {value} is not one of {rule}"));
                    }
                }
                "required" => {
                    if let Some(object) = value.as_object() {
                        for name in rule.as_array().expect("required is an array") {
                            let name = name.as_str().expect("a property name");
                            if !object.contains_key(name) {
                                problems.push(format!("{path}.{name} is required"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let Some(object) = value.as_object() {
                        for (name, subschema) in rule.as_object().expect("properties") {
                            if let Some(child) = object.get(name) {
                                declared.insert(name.clone());
                                self.closed(child, subschema, &format!("{path}.{name}"), problems);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(object) = value.as_object() {
                        let named = schema.get("properties").and_then(Value::as_object);
                        for (name, child) in object {
                            if named.is_some_and(|named| named.contains_key(name)) {
                                continue;
                            }
                            match rule {
                                Value::Bool(false) => {}
                                Value::Bool(true) => {
                                    declared.insert(name.clone());
                                }
                                subschema => {
                                    declared.insert(name.clone());
                                    self.closed(
                                        child,
                                        subschema,
                                        &format!("{path}.{name}"),
                                        problems,
                                    );
                                }
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(items) = value.as_array() {
                        for (index, item) in items.iter().enumerate() {
                            self.closed(item, rule, &format!("{path}[{index}]"), problems);
                        }
                    }
                }
                "minItems" | "maxItems" => {
                    if let Some(items) = value.as_array() {
                        let bound = rule.as_u64().expect("a count") as usize;
                        let ok = if keyword == "minItems" {
                            items.len() >= bound
                        } else {
                            items.len() <= bound
                        };
                        if !ok {
                            problems
                                .push(format!("{path}: {} items, {keyword} {bound}", items.len()));
                        }
                    }
                }
                "minimum" | "maximum" => {
                    if let Some(number) = value.as_f64() {
                        let bound = rule.as_f64().expect("a number");
                        let ok = if keyword == "minimum" {
                            number >= bound
                        } else {
                            number <= bound
                        };
                        if !ok {
                            problems.push(format!("{path}: {number} breaks {keyword} {bound}"));
                        }
                    }
                }
                "maxLength" => {
                    if let Some(text) = value.as_str() {
                        let bound = rule.as_u64().expect("a length") as usize;
                        if text.chars().count() > bound {
                            problems.push(format!("{path}: longer than {bound} characters"));
                        }
                    }
                }
                "allOf" => {
                    for branch in rule.as_array().expect("allOf is an array") {
                        self.check(value, branch, path, problems, declared);
                    }
                }
                "anyOf" | "oneOf" => {
                    let branches = rule.as_array().expect("a list of schemas");
                    let mut matched = 0;
                    let mut failures = Vec::new();
                    for (index, branch) in branches.iter().enumerate() {
                        let mut branch_problems = Vec::new();
                        let mut branch_declared = BTreeSet::new();
                        self.check(
                            value,
                            branch,
                            path,
                            &mut branch_problems,
                            &mut branch_declared,
                        );
                        if branch_problems.is_empty() {
                            matched += 1;
                            declared.extend(branch_declared);
                        } else {
                            failures.push(format!("#{index}: {}", branch_problems.join("; ")));
                        }
                    }
                    if matched == 0 {
                        problems.push(format!(
                            "{path}: matches no branch of {keyword} ({})",
                            failures.join(" | ")
                        ));
                    } else if keyword == "oneOf" && matched > 1 {
                        problems.push(format!("{path}: matches {matched} branches of oneOf"));
                    }
                }
                // Annotations, and keywords that do not constrain a request body.
                "nullable" | "description" | "title" | "default" | "example" | "deprecated"
                | "discriminator" | "format" => {}
                vendor if vendor.starts_with("x-") => {}
                unknown => {
                    panic!("the request checker does not know keyword {unknown} (at {path})")
                }
            }
        }
    }
}

fn type_matches(value: &Value, rule: &Value) -> bool {
    let one = |kind: &str| match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|n| n.fract() == 0.0)
        }
        other => panic!("unknown JSON type {other}"),
    };
    match rule {
        Value::String(kind) => one(kind),
        Value::Array(kinds) => kinds
            .iter()
            .any(|kind| one(kind.as_str().expect("a type name"))),
        other => panic!("a type is a name or a list of names, not {other}"),
    }
}

#[test]
fn the_request_checker_accepts_the_vendor_example() {
    let schema = RequestSchema::load();
    let example = read_json("openai/chat_completions_functions.request.json");
    assert_eq!(schema.problems(&example), Vec::<String>::new());
}

#[test]
fn the_request_checker_rejects_what_the_api_would() {
    let schema = RequestSchema::load();
    let good = openai::encode(
        &repaired_week_request("call_abc"),
        "gpt-4.1",
        openai::DEFAULT_BASE_URL,
    );
    assert_eq!(schema.problems(&good), Vec::<String>::new());
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut body = good.clone();
        edit(&mut body);
        schema.problems(&body)
    };
    let misspelt = broken(&|body| {
        let tokens = body["max_completion_tokens"].take();
        let object = body.as_object_mut().expect("an object");
        object.remove("max_completion_tokens");
        object.insert("max_completion_token".into(), tokens);
    });
    assert_eq!(
        misspelt,
        ["request.max_completion_token is not a property the schema declares"]
    );
    assert!(!broken(&|body| body["tool_choice"] = json!("always")).is_empty());
    assert!(
        !broken(&|body| body["tool_choice"] = json!({"type": "function", "function": {}}))
            .is_empty()
    );
    assert!(!broken(&|body| body["parallel_tool_calls"] = json!("no")).is_empty());
    assert!(!broken(&|body| body["messages"][1]["role"] = json!("bot")).is_empty());
    assert!(!broken(&|body| {
        body["messages"][3]
            .as_object_mut()
            .expect("the tool message")
            .remove("tool_call_id");
    })
    .is_empty());
    assert!(!broken(&|body| body["tools"][0]["function"]["strict"] = json!("yes")).is_empty());
    assert!(!broken(&|body| body["messages"] = json!([])).is_empty());
}

#[test]
fn openai_requests_validate_against_the_vendor_schema() {
    let schema = RequestSchema::load();
    for request in [
        overview_request(),
        week_request(Vec::new()),
        repaired_week_request("call_abc"),
        repaired_week_request(""),
    ] {
        // OpenAI's own API, and a compatible server (which gets `max_tokens`).
        for base_url in [openai::DEFAULT_BASE_URL, "http://127.0.0.1:8080/v1"] {
            let body = openai::encode(&request, openai::DEFAULT_MODEL, base_url);
            assert_eq!(schema.problems(&body), Vec::<String>::new(), "{body:#}");
        }
    }
}
