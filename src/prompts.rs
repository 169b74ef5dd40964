//! Prompt templates (in progress).
