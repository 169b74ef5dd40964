//! periodize: durable, three-phase generation of periodized cycling training plans with a
//! language model. Read ARCHITECTURE.md first; modules are listed here in reading order, from
//! the pure core outwards.

pub mod cli;
pub mod coach;
pub mod domain;
pub mod engine;
pub mod export;
pub mod files;
pub mod llm;
#[cfg(feature = "mock-llm")]
pub mod mock_llm;
pub mod planfile;
pub mod pricing;
pub mod prompts;
pub mod providers;
pub mod store;
pub mod tools;
pub mod workflow;
