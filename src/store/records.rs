//! The persistence boundary: versioned records and their bincode encoding. Every record starts
//! with a little-endian u16 format version; decoding refuses versions it does not know.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::domain::validate::Violation;
use crate::workflow::{RunSpec, State, StepState};

/// Bump when any persisted type changes shape; old stores are then refused, not misread.
pub const FORMAT_VERSION: u16 = 1;

/// One run: its spec, machine state and counters. Steps live in their own records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub spec: RunSpec,
    pub state: State,
    pub week_concurrency: u32,
    pub plan_warnings: Vec<Violation>,
    pub finalizing_at_ms: Option<u64>,
    pub output_file: Option<String>,
    pub finished_at_ms: Option<u64>,
    pub done_count: u32,
    pub budget: crate::workflow::Budget,
    pub budget_stop: Option<String>,
    /// Transitions committed so far; dense and increasing.
    pub seq: u64,
    pub updated_at_ms: u64,
}

/// One step (3a or one week): attempts, in-flight request, conversation and checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: StepState,
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("record is {len} bytes, too short to hold a format version")]
    Truncated { len: usize },
    #[error("record has format version {found}, this build reads version {FORMAT_VERSION}")]
    UnknownVersion { found: u16 },
    #[error("record body does not decode")]
    Body(#[source] bincode::error::DecodeError),
    #[error("record has {extra} trailing bytes after its body")]
    Trailing { extra: usize },
}

pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    let mut bytes = FORMAT_VERSION.to_le_bytes().to_vec();
    let body = bincode::serde::encode_to_vec(record, bincode::config::standard())
        .expect("records hold only bincode-encodable types (no untagged enums or maps of JSON)");
    bytes.extend_from_slice(&body);
    bytes
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() < 2 {
        return Err(CodecError::Truncated { len: bytes.len() });
    }
    let found = u16::from_le_bytes([bytes[0], bytes[1]]);
    if found != FORMAT_VERSION {
        return Err(CodecError::UnknownVersion { found });
    }
    let (record, read) =
        bincode::serde::decode_from_slice(&bytes[2..], bincode::config::standard())
            .map_err(CodecError::Body)?;
    let extra = bytes.len() - 2 - read;
    if extra != 0 {
        return Err(CodecError::Trailing { extra });
    }
    Ok(record)
}
