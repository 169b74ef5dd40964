//! Built-in rule-based coach (in progress).
