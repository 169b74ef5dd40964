//! The one integration-test binary: the CLI end to end, the store, the state machine property
//! test, the built-in coach property test, prompts and tidy checks.
mod cli;
mod coach;
mod machine;
mod prompts;
mod seed_plans;
mod store;
mod support;
mod tidy;
