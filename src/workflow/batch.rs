//! A batch: runs submitted together, each from one profile. Pure data; the store keeps it and
//! the engine drives its runs.

use crate::workflow::RunId;

/// Where a run sits in its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchRef {
    pub batch_id: u128,
    /// Position in the batch, from 0.
    pub item: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub id: u128,
    pub name: String,
    /// Identifies the submission (its items' content hashes and its options): submitting the
    /// same thing again finds this batch instead of making new runs.
    pub digest: String,
    pub created_at_ms: u64,
    pub items: Vec<BatchItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub run_id: RunId,
    /// Where the profile came from: a file, or a manifest and its line.
    pub source: String,
    /// SHA-256 of what the run was made from (the checked profile, its length and start).
    pub content_hash: String,
}

impl Batch {
    /// The first 8 hex digits, as in listings.
    pub fn short(&self) -> String {
        format!("{:032x}", self.id)[..8].to_string()
    }

    pub fn id_text(&self) -> String {
        format!("{:032x}", self.id)
    }
}
