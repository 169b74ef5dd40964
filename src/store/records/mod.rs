//! The persistence boundary: versioned records and their encoding. Every record starts with a
//! little-endian u16 format version. Version 4 is written today, as JSON; it is version 2 plus
//! optional fields (those of version 3, then version 4's), so `v2.rs` holds the types of all
//! three and reads a version 2 or 3 body as it is.
//! Version 1 (`v1.rs`, bincode by position) is only read, and upgraded in memory. A version
//! this build does not know is refused by number, never guessed at.

pub mod v1;
pub mod v2;

use serde::{de::DeserializeOwned, Serialize};

pub use v2::{
    BatchItemRecord, BatchRecord, BatchRefRecord, HeadRecord, Id, MetaRecord, OpenRecord,
    SpecRecord, StateRecord, StepRecord, StepRecordId, SummaryRecord, UsageRecord,
};

/// The version every record is written with.
pub const FORMAT_VERSION: u16 = 4;
/// The first JSON version. Its bodies decode with the same types as `FORMAT_VERSION`'s
/// (versions 3 and 4 only added optional fields).
pub const FIRST_JSON_VERSION: u16 = 2;
/// The oldest version this build reads (and upgrades).
pub const OLDEST_READABLE_VERSION: u16 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("record is {len} bytes, too short to hold a format version")]
    Truncated { len: usize },
    #[error("record has format version {found}, this build reads versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION}; a newer periodize wrote it")]
    UnknownVersion { found: u16 },
    #[error("record of format version {version} is not where that version keeps it")]
    Misfiled { version: u16 },
    #[error("version 1 record body does not decode")]
    BodyV1(#[source] bincode::error::DecodeError),
    #[error("record body does not decode")]
    Body(#[source] serde_json::Error),
    #[error("version 1 record has {extra} trailing bytes after its body")]
    Trailing { extra: usize },
    #[error("version 1 run record does not decode")]
    RunV1(#[source] v1::RunDecodeError),
    #[error("record cannot be upgraded")]
    Upgrade(#[source] v2::Invalid),
    #[error("record holds a value this build cannot represent")]
    Invalid(#[source] v2::Invalid),
}

/// Encodes a record of the current version: the version, then the JSON body.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(256);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    serde_json::to_writer(&mut bytes, record)
        .expect("records hold only JSON-encodable values (string keys, finite numbers)");
    bytes
}

/// The version a record was written with.
pub fn version_of(bytes: &[u8]) -> Result<u16, CodecError> {
    match bytes {
        [a, b, ..] => Ok(u16::from_le_bytes([*a, *b])),
        _ => Err(CodecError::Truncated { len: bytes.len() }),
    }
}

fn known(version: u16) -> Result<u16, CodecError> {
    if (OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
        Ok(version)
    } else {
        Err(CodecError::UnknownVersion { found: version })
    }
}

/// Decodes a record that exists only from version 2 on (spec, head, batch, meta), of version
/// 2, 3 or 4.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match known(version_of(bytes)?)? {
        FIRST_JSON_VERSION..=FORMAT_VERSION => {
            serde_json::from_slice(&bytes[2..]).map_err(CodecError::Body)
        }
        version => Err(CodecError::Misfiled { version }),
    }
}

fn decode_v1<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (record, read) =
        bincode::serde::decode_from_slice(&bytes[2..], bincode::config::standard())
            .map_err(CodecError::BodyV1)?;
    let extra = bytes.len() - 2 - read;
    if extra != 0 {
        return Err(CodecError::Trailing { extra });
    }
    Ok(record)
}

/// Decodes a step record of any readable version, upgraded to the current one.
pub fn decode_step(bytes: &[u8]) -> Result<StepRecord, CodecError> {
    match known(version_of(bytes)?)? {
        1 => v1::upgrade_step(decode_v1(bytes)?).map_err(CodecError::Upgrade),
        _ => decode(bytes),
    }
}

/// Decodes a version 1 run record (spec and head in one) into its version 2 parts, given its
/// steps (already upgraded). The head's summary is left for the caller to derive.
pub fn decode_v1_run(
    bytes: &[u8],
    steps: &[StepRecord],
) -> Result<(SpecRecord, HeadRecord), CodecError> {
    match known(version_of(bytes)?)? {
        1 => {
            let record = v1::decode_run(&bytes[2..]).map_err(CodecError::RunV1)?;
            let overview_accepted = steps
                .iter()
                .any(|step| step.step == StepRecordId::Overview && step.accepted_at_ms.is_some());
            v1::upgrade_run(record, overview_accepted).map_err(CodecError::Upgrade)
        }
        version => Err(CodecError::Misfiled { version }),
    }
}
