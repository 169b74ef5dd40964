//! periodize: durable, three-phase generation of periodized cycling training plans with a
//! language model. Read ARCHITECTURE.md first; modules are listed here in reading order, from
//! the pure core outwards.

pub mod domain;
pub mod llm;
pub mod tools;
pub mod coach;
pub mod prompts;
pub mod workflow;
pub mod store;
pub mod planfile;
pub mod providers;
pub mod engine;
pub mod cli;
