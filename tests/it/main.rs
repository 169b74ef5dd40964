//! The one integration-test binary: the CLI end to end, the store, the state machine property
//! test, the built-in coach property test, prompts and tidy checks.
mod batches;
mod cli;
mod coach;
mod compatible_servers;
mod context_window;
mod doctor;
mod engine_model;
mod engine_runs;
mod failure_policy;
mod hostile;
mod http_providers;
mod limiter;
mod machine;
mod mock_llm;
mod prompts;
mod provider_defences;
mod providers_anthropic_openai;
mod providers_gemini_ollama;
mod secrets;
mod seed_plans;
mod signals;
mod store;
mod store_files;
mod store_upgrade;
mod support;
mod tidy;
