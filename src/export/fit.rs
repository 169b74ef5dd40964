//! Garmin's FIT workout file, pure: one workout of the export model as the binary `.fit`
//! workout (FIT file type 5) that Garmin, Wahoo and Hammerhead head units load. A file is a
//! 14-byte header, the `file_id`, `workout` and `workout_step` messages (each data record
//! after the definition record that lays it out), and a CRC-16 over everything before it.
//! Power targets are % FTP ranges, durations milliseconds, repeats FIT repeat steps.
//!
//! Written by hand rather than through a FIT crate: the three messages and the CRC are a few
//! hundred lines, while the maintained FIT encoder crate compiles a generated profile of
//! every FIT message (tens of thousands of lines) and its current release needs a newer
//! compiler than this crate's minimum. The tests read the files back with other decoders.

use chrono::NaiveDate;

use crate::domain::SegmentKind;
use crate::export::model::{Block, DatedWorkout, ExportPlan, ExportWeek, Repeat, Step};

/// The file extension head units and Garmin Connect look for.
pub const EXTENSION: &str = "fit";

/// Header length in bytes: the 12-byte header of the FIT protocol plus its own CRC.
const HEADER_BYTES: u8 = 14;
/// Protocol 1.0: the file uses nothing of 2.0 (no developer fields), and a unit that reads
/// only 1.0 refuses a file that claims 2.0.
const PROTOCOL_VERSION: u8 = 0x10;
/// The profile the message and field numbers below were checked against, 21.218, written as
/// the FIT header writes it (major × 1000 + minor).
const PROFILE_VERSION: u16 = 21_218;
const DATA_TYPE: [u8; 4] = *b".FIT";

/// A record header with this bit set is a definition record; clear, a data record.
const DEFINITION_RECORD: u8 = 0x40;
/// Every message uses local message type 0, redefined whenever the layout changes, so no
/// reader has to track several local types.
const LOCAL_MESSAGE_TYPE: u8 = 0;
/// Architecture byte of a definition: 0 is little-endian, as every value below is written.
const LITTLE_ENDIAN: u8 = 0;

/// Global message numbers of the FIT profile.
const MESG_FILE_ID: u16 = 0;
const MESG_WORKOUT: u16 = 26;
const MESG_WORKOUT_STEP: u16 = 27;

/// `file_id` fields.
const FILE_ID_TYPE: u8 = 0;
const FILE_ID_MANUFACTURER: u8 = 1;
const FILE_ID_PRODUCT: u8 = 2;
const FILE_ID_SERIAL_NUMBER: u8 = 3;
const FILE_ID_TIME_CREATED: u8 = 4;
const FILE_ID_PRODUCT_NAME: u8 = 8;

/// `workout` fields.
const WORKOUT_SPORT: u8 = 4;
const WORKOUT_NUM_VALID_STEPS: u8 = 6;
const WORKOUT_NAME: u8 = 8;
const WORKOUT_DESCRIPTION: u8 = 17;

/// `workout_step` fields.
const STEP_MESSAGE_INDEX: u8 = 254;
const STEP_NAME: u8 = 0;
const STEP_DURATION_TYPE: u8 = 1;
const STEP_DURATION_VALUE: u8 = 2;
const STEP_TARGET_TYPE: u8 = 3;
const STEP_TARGET_VALUE: u8 = 4;
const STEP_CUSTOM_TARGET_LOW: u8 = 5;
const STEP_CUSTOM_TARGET_HIGH: u8 = 6;
const STEP_INTENSITY: u8 = 7;
const STEP_NOTES: u8 = 8;

/// `file` type of a workout.
const FILE_TYPE_WORKOUT: u8 = 5;
/// The `manufacturer` FIT sets aside for software of no registered manufacturer.
const MANUFACTURER_DEVELOPMENT: u16 = 255;
/// Our product number under the development manufacturer, and its name.
const PRODUCT: u16 = 1;
const PRODUCT_NAME: &str = "periodize";
const SPORT_CYCLING: u8 = 2;

/// `wkt_step_duration`: a time in milliseconds, or a repeat of the steps from a message
/// index on, its count in the step's target value.
const DURATION_TIME: u8 = 0;
const DURATION_REPEAT_UNTIL_STEPS_COMPLETE: u8 = 6;
/// `wkt_step_target` power; its target value 0 means the custom low/high range.
const TARGET_POWER: u8 = 4;
const TARGET_CUSTOM_RANGE: u32 = 0;

/// `intensity`: how the unit labels the step and the lap it records for it.
const INTENSITY_ACTIVE: u8 = 0;
const INTENSITY_WARMUP: u8 = 2;
const INTENSITY_COOLDOWN: u8 = 3;
const INTENSITY_RECOVERY: u8 = 4;
const INTENSITY_INTERVAL: u8 = 5;

/// A custom power target counts percent of FTP up to 1000, and watts plus 1000 above it; the
/// value 1000 itself is the profile's named `watts_offset`. Percentages stop one below it, so
/// no plan's percentage can ever be read as watts.
const MAX_TARGET_PCT_FTP: f64 = 999.0;

/// Sizes of the string fields, in bytes with the terminating NUL. A name fits a head unit's
/// list; a step name its step screen; the notes and description hold a sentence or two; 255
/// is the most a FIT field can hold.
const WORKOUT_NAME_BYTES: u8 = 64;
const WORKOUT_DESCRIPTION_BYTES: u8 = 255;
const STEP_NAME_BYTES: u8 = 48;
const STEP_NOTES_BYTES: u8 = 160;
const PRODUCT_NAME_BYTES: u8 = 16;

/// A `message_index` numbers messages in its low 12 bits, so a workout holds at most 4096
/// steps (far more than any head unit loads).
const MAX_STEPS: usize = 0x1000;

/// The day FIT counts time from: 1989-12-31T00:00:00Z.
const FIT_EPOCH: (i32, u32, u32) = (1989, 12, 31);
const SECONDS_PER_DAY: i64 = 86_400;
/// FIT reads a `date_time` below this as seconds since the unit powered on, not a date.
const MIN_FIT_DATE_TIME: u32 = 0x1000_0000;

/// The `.fit` bytes of one workout. Deterministic: `time_created` is the workout's date at
/// midnight UTC and the serial number a hash of the plan's athlete, the date, the workout's
/// place on that day and its name, so the same plan gives the same bytes and two workouts
/// share a `file_id` only by a collision of that 32-bit hash.
pub fn workout_file(plan: &ExportPlan, week: &ExportWeek, workout: &DatedWorkout) -> Vec<u8> {
    let steps = workout_steps(workout);
    let mut records = Records::default();
    records.message(
        MESG_FILE_ID,
        &[
            (FILE_ID_TYPE, Value::Enum(FILE_TYPE_WORKOUT)),
            (
                FILE_ID_MANUFACTURER,
                Value::Uint16(MANUFACTURER_DEVELOPMENT),
            ),
            (FILE_ID_PRODUCT, Value::Uint16(PRODUCT)),
            (
                FILE_ID_SERIAL_NUMBER,
                Value::Uint32z(serial_number(plan, week, workout)),
            ),
            (
                FILE_ID_TIME_CREATED,
                Value::Uint32(fit_date_time(workout.date)),
            ),
            (
                FILE_ID_PRODUCT_NAME,
                Value::text(PRODUCT_NAME, PRODUCT_NAME_BYTES),
            ),
        ],
    );
    let name = if clean(&workout.name).is_empty() {
        "Workout"
    } else {
        workout.name.as_str()
    };
    records.message(
        MESG_WORKOUT,
        &[
            (WORKOUT_SPORT, Value::Enum(SPORT_CYCLING)),
            (
                WORKOUT_NUM_VALID_STEPS,
                Value::Uint16(u16::try_from(steps.len()).unwrap_or(u16::MAX)),
            ),
            (WORKOUT_NAME, Value::text(name, WORKOUT_NAME_BYTES)),
            (
                WORKOUT_DESCRIPTION,
                Value::text(
                    &crate::export::workout_summary(week, workout, " "),
                    WORKOUT_DESCRIPTION_BYTES,
                ),
            ),
        ],
    );
    for step in &steps {
        records.message(MESG_WORKOUT_STEP, step);
    }
    file(&records.bytes)
}

/// The header, the records and the file's CRC.
fn file(records: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::from(HEADER_BYTES) + records.len() + 2);
    out.push(HEADER_BYTES);
    out.push(PROTOCOL_VERSION);
    out.extend_from_slice(&PROFILE_VERSION.to_le_bytes());
    // A workout's records are a few kilobytes; the size field holds four gigabytes.
    let data_bytes = u32::try_from(records.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&data_bytes.to_le_bytes());
    out.extend_from_slice(&DATA_TYPE);
    let header_crc = crc16(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(records);
    let file_crc = crc16(&out);
    out.extend_from_slice(&file_crc.to_le_bytes());
    out
}

/// FIT's CRC-16 polynomial, 0x8005, bit-reversed for a CRC that takes bytes low bit first.
const CRC_POLYNOMIAL_REFLECTED: u16 = 0xA001;

/// FIT's CRC-16 (the one known as CRC-16/ARC: polynomial 0x8005, reflected, initial value
/// 0, no final XOR), computed bit by bit.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CRC_POLYNOMIAL_REFLECTED
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// A field value with its FIT base type. A string is held at its field's size: its UTF-8
/// bytes, cut at a character boundary to leave room for the terminating NUL, then NULs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Enum(u8),
    Uint16(u16),
    Uint32(u32),
    /// An unsigned integer whose invalid value is 0, not all ones.
    Uint32z(u32),
    Text(Vec<u8>),
}

/// Invalid values: a field a message does not use in one record but does in another of the
/// same layout (a repeat step has no power target).
const ENUM_INVALID: u8 = 0xFF;
const UINT32_INVALID: u32 = u32::MAX;

impl Value {
    fn text(text: &str, size: u8) -> Value {
        let cleaned = clean(text);
        let room = usize::from(size).saturating_sub(1);
        let mut end = cleaned.len().min(room);
        while !cleaned.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = cleaned[..end].trim_end().as_bytes().to_vec();
        bytes.resize(usize::from(size), 0);
        Value::Text(bytes)
    }

    /// The base type's number in a definition record.
    fn base_type(&self) -> u8 {
        match self {
            Value::Enum(_) => 0x00,
            Value::Uint16(_) => 0x84,
            Value::Uint32(_) => 0x86,
            Value::Uint32z(_) => 0x8C,
            Value::Text(_) => 0x07,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::Enum(value) => out.push(*value),
            Value::Uint16(value) => out.extend_from_slice(&value.to_le_bytes()),
            Value::Uint32(value) | Value::Uint32z(value) => {
                out.extend_from_slice(&value.to_le_bytes())
            }
            Value::Text(bytes) => out.extend_from_slice(bytes),
        }
    }

    fn size(&self) -> u8 {
        match self {
            Value::Enum(_) => 1,
            Value::Uint16(_) => 2,
            Value::Uint32(_) | Value::Uint32z(_) => 4,
            // Built by `Value::text` at a size that is a `u8`.
            Value::Text(bytes) => u8::try_from(bytes.len()).unwrap_or(u8::MAX),
        }
    }
}

/// Text as a FIT string holds it: no NUL (it would end the string early) and no other control
/// character (a unit would draw it as garbage), each made a space, runs of spaces one.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out
}

/// A message's fields: each field's number and value, in the order they are written.
type Fields = Vec<(u8, Value)>;

/// What a definition record says: the global message number and each field's number, size
/// in bytes and base type.
type Definition = (u16, Vec<(u8, u8, u8)>);

/// The records of a file: each message as a data record, after a definition record whenever
/// its message number or field layout differs from the previous message's.
#[derive(Default)]
struct Records {
    bytes: Vec<u8>,
    /// What local message type 0 is defined as.
    defined: Option<Definition>,
}

impl Records {
    fn message(&mut self, global: u16, fields: &[(u8, Value)]) {
        let definition: Definition = (
            global,
            fields
                .iter()
                .map(|(number, value)| (*number, value.size(), value.base_type()))
                .collect(),
        );
        if self.defined.as_ref() != Some(&definition) {
            let (_, layout) = &definition;
            self.bytes.push(DEFINITION_RECORD | LOCAL_MESSAGE_TYPE);
            self.bytes.push(0); // reserved
            self.bytes.push(LITTLE_ENDIAN);
            self.bytes.extend_from_slice(&global.to_le_bytes());
            // At most a dozen fields per message, all named above.
            self.bytes
                .push(u8::try_from(layout.len()).unwrap_or(u8::MAX));
            for (number, size, base_type) in layout {
                self.bytes.extend_from_slice(&[*number, *size, *base_type]);
            }
            self.defined = Some(definition);
        }
        self.bytes.push(LOCAL_MESSAGE_TYPE);
        for (_, value) in fields {
            value.write(&mut self.bytes);
        }
    }
}

/// Every `workout_step` message of the workout, in order. A step is one message; a repeat is
/// its work and recovery steps, then a repeat step pointing back at the work. A workout of
/// more steps than a message index numbers keeps its first whole blocks that fit.
fn workout_steps(workout: &DatedWorkout) -> Vec<Fields> {
    let mut steps: Vec<Fields> = Vec::new();
    for block in &workout.blocks {
        let needed = match block {
            Block::Step(_) => 1,
            Block::Repeat(repeat) => 2 + usize::from(repeat.recovery.is_some()),
        };
        if steps.len() + needed > MAX_STEPS {
            break;
        }
        match block {
            Block::Step(step) => steps.push(timed_step(steps.len(), step)),
            Block::Repeat(repeat) => {
                let first = steps.len();
                steps.push(timed_step(first, &repeat.work));
                if let Some(recovery) = &repeat.recovery {
                    steps.push(timed_step(steps.len(), recovery));
                }
                steps.push(repeat_step(steps.len(), first, repeat));
            }
        }
    }
    steps
}

/// One ridden step: its time in milliseconds and its power as a % FTP range. FIT has no ramp,
/// so a step's range is its own, as the plan wrote it: a warm-up's range is the ramp from its
/// low to its high end and a cool-down's from high to low (the intensity says which), and
/// any other step's range is the band it holds. Each plan step stays one FIT step, so the
/// unit shows the plan's steps and the ramp's ends are the range's.
fn timed_step(index: usize, step: &Step) -> Fields {
    let duration_ms = step.duration_s.saturating_mul(1000).min(UINT32_INVALID - 1);
    let (low, high) = (
        target_pct(step.low_pct.min(step.high_pct)),
        target_pct(step.low_pct.max(step.high_pct)),
    );
    let (name, notes) = step_words(&step.description, step.kind);
    vec![
        (STEP_MESSAGE_INDEX, Value::Uint16(message_index(index))),
        (STEP_NAME, name),
        (STEP_DURATION_TYPE, Value::Enum(DURATION_TIME)),
        (STEP_DURATION_VALUE, Value::Uint32(duration_ms)),
        (STEP_TARGET_TYPE, Value::Enum(TARGET_POWER)),
        (STEP_TARGET_VALUE, Value::Uint32(TARGET_CUSTOM_RANGE)),
        (STEP_CUSTOM_TARGET_LOW, Value::Uint32(low)),
        (STEP_CUSTOM_TARGET_HIGH, Value::Uint32(high)),
        (STEP_INTENSITY, Value::Enum(intensity(step.kind))),
        (STEP_NOTES, notes),
    ]
}

/// The step after a repeat's body: "repeat the steps from `first` until done `sets` times".
/// It has the timed steps' layout, its unused fields invalid, so one definition serves all.
fn repeat_step(index: usize, first: usize, repeat: &Repeat) -> Fields {
    vec![
        (STEP_MESSAGE_INDEX, Value::Uint16(message_index(index))),
        (STEP_NAME, Value::text(&repeat.description, STEP_NAME_BYTES)),
        (
            STEP_DURATION_TYPE,
            Value::Enum(DURATION_REPEAT_UNTIL_STEPS_COMPLETE),
        ),
        (
            STEP_DURATION_VALUE,
            Value::Uint32(u32::from(message_index(first))),
        ),
        (STEP_TARGET_TYPE, Value::Enum(ENUM_INVALID)),
        (STEP_TARGET_VALUE, Value::Uint32(repeat.sets)),
        (STEP_CUSTOM_TARGET_LOW, Value::Uint32(UINT32_INVALID)),
        (STEP_CUSTOM_TARGET_HIGH, Value::Uint32(UINT32_INVALID)),
        (STEP_INTENSITY, Value::Enum(ENUM_INVALID)),
        (STEP_NOTES, Value::text("", STEP_NOTES_BYTES)),
    ]
}

/// Indices are below `MAX_STEPS`, checked when the steps are gathered.
fn message_index(index: usize) -> u16 {
    u16::try_from(index.min(MAX_STEPS - 1)).unwrap_or(0)
}

/// A percentage of FTP as a custom power target: whole percent, the resolution FIT has,
/// within 0..=`MAX_TARGET_PCT_FTP` (not a number is 0).
fn target_pct(pct: f64) -> u32 {
    if pct.is_nan() {
        return 0;
    }
    // In range after the clamp, so the cast is exact.
    pct.round().clamp(0.0, MAX_TARGET_PCT_FTP) as u32
}

fn intensity(kind: SegmentKind) -> u8 {
    match kind {
        SegmentKind::Warmup => INTENSITY_WARMUP,
        SegmentKind::Cooldown => INTENSITY_COOLDOWN,
        SegmentKind::Recovery => INTENSITY_RECOVERY,
        SegmentKind::Interval | SegmentKind::Work => INTENSITY_INTERVAL,
        SegmentKind::Steady | SegmentKind::Tempo => INTENSITY_ACTIVE,
    }
}

/// A step's name and notes: the description as the name when it fits; a longer one goes
/// whole (to its bound) into the notes, the name holding its start. With no description the
/// name says what kind of step it is.
fn step_words(description: &str, kind: SegmentKind) -> (Value, Value) {
    let text = clean(description);
    if text.is_empty() {
        return (
            Value::text(kind_label(kind), STEP_NAME_BYTES),
            Value::text("", STEP_NOTES_BYTES),
        );
    }
    let notes = if text.len() < usize::from(STEP_NAME_BYTES) {
        ""
    } else {
        text.as_str()
    };
    (
        Value::text(&text, STEP_NAME_BYTES),
        Value::text(notes, STEP_NOTES_BYTES),
    )
}

fn kind_label(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::Warmup => "Warm up",
        SegmentKind::Steady => "Steady",
        SegmentKind::Tempo => "Tempo",
        SegmentKind::Interval => "Interval",
        SegmentKind::Work => "Work",
        SegmentKind::Recovery => "Recovery",
        SegmentKind::Cooldown => "Cool down",
    }
}

/// `date` at midnight UTC as a FIT `date_time`, held within the values FIT reads as dates.
fn fit_date_time(date: NaiveDate) -> u32 {
    let (year, month, day) = FIT_EPOCH;
    let epoch = NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN);
    let seconds = (date - epoch).num_days().saturating_mul(SECONDS_PER_DAY);
    let bounded = seconds.clamp(i64::from(MIN_FIT_DATE_TIME), i64::from(UINT32_INVALID - 1));
    u32::try_from(bounded).unwrap_or(MIN_FIT_DATE_TIME)
}

/// A unit tells workout files apart by (type, manufacturer, product, serial number): the
/// serial is a 32-bit FNV-1a hash of the athlete, the date, the workout's place among that
/// day's workouts and its name, never 0 (the invalid value of its type). A re-exported plan
/// keeps its serials, so a unit replaces a workout rather than adding a copy.
fn serial_number(plan: &ExportPlan, week: &ExportWeek, workout: &DatedWorkout) -> u32 {
    const FNV_OFFSET_BASIS: u32 = 0x811C_9DC5;
    const FNV_PRIME: u32 = 0x0100_0193;
    // Identity, not equality: two equal workouts on one day are still two.
    let place_in_day = week
        .workouts
        .iter()
        .take_while(|other| !std::ptr::eq(*other, workout))
        .filter(|other| other.date == workout.date)
        .count();
    let key = format!(
        "{}\u{1F}{}\u{1F}{}\u{1F}{}",
        plan.profile.name, workout.date, place_in_day, workout.name
    );
    let hash = key.bytes().fold(FNV_OFFSET_BASIS, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(FNV_PRIME)
    });
    hash.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Phase, Weekday};

    use crate::export::model::test_step as step;

    fn plan_of(blocks: Vec<Vec<Block>>) -> ExportPlan {
        let date = NaiveDate::from_ymd_opt(2027, 1, 5).unwrap();
        ExportPlan::for_tests(
            "Ada",
            250.0,
            NaiveDate::from_ymd_opt(2027, 1, 4).unwrap(),
            vec![ExportWeek {
                week_number: 1,
                phase: Phase::Foundation,
                workouts: blocks
                    .into_iter()
                    .map(|blocks| DatedWorkout {
                        date,
                        weekday: Weekday::Tuesday,
                        name: "Sweet spot 2×10".to_string(),
                        description: "Two blocks.".to_string(),
                        detailed_description: None,
                        blocks,
                    })
                    .collect(),
            }],
        )
    }

    /// The CRC is FIT's: the standard check value of CRC-16/ARC, and a file's CRC over
    /// everything before it leaves a CRC of 0 over the whole file.
    #[test]
    fn crc_is_fits_crc16() {
        assert_eq!(crc16(b"123456789"), 0xBB3D);
        assert_eq!(crc16(b""), 0);
        let plan = plan_of(vec![vec![Block::Step(step(
            SegmentKind::Steady,
            600,
            60.0,
            70.0,
            "",
        ))]]);
        let bytes = workout_file(&plan, &plan.weeks[0], &plan.weeks[0].workouts[0]);
        assert_eq!(crc16(&bytes), 0);
        assert_eq!(
            crc16(&bytes[..14]),
            0,
            "the header's CRC covers its 12 bytes"
        );
    }

    /// The 14-byte header: its size, protocol 1.0, the profile version, the size of the
    /// records between it and the CRC, `.FIT`.
    #[test]
    fn the_header_describes_the_records() {
        let plan = plan_of(vec![vec![Block::Step(step(
            SegmentKind::Warmup,
            600,
            50.0,
            70.0,
            "easy",
        ))]]);
        let bytes = workout_file(&plan, &plan.weeks[0], &plan.weeks[0].workouts[0]);
        assert_eq!(bytes[0], 14);
        assert_eq!(bytes[1], 0x10);
        assert_eq!(u16::from_le_bytes([bytes[2], bytes[3]]), 21_218);
        let data = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        assert_eq!(data, bytes.len() - 14 - 2);
        assert_eq!(&bytes[8..12], b".FIT");
        // The first record defines `file_id` (global message 0).
        assert_eq!(bytes[14], 0x40);
        assert_eq!(u16::from_le_bytes([bytes[17], bytes[18]]), 0);
    }

    /// Strings stop at their field's size on a character boundary, end with a NUL, and carry
    /// no control character.
    #[test]
    fn strings_are_bounded_nul_terminated_utf8() {
        let Value::Text(bytes) = Value::text(&"é".repeat(40), 8) else {
            panic!()
        };
        let mut want = "ééé".as_bytes().to_vec();
        want.extend([0, 0]);
        assert_eq!(bytes, want);
        let Value::Text(bytes) = Value::text("a\0b\n\tc  d ", 16) else {
            panic!()
        };
        assert_eq!(&bytes[..8], b"a b c d\0");
        assert!(bytes[8..].iter().all(|&b| b == 0));
    }

    /// Percentages are whole, never negative, and stay below the watts offset.
    #[test]
    fn power_targets_are_percent_and_never_watts() {
        assert_eq!(target_pct(88.4), 88);
        assert_eq!(target_pct(88.5), 89);
        assert_eq!(target_pct(-5.0), 0);
        assert_eq!(target_pct(f64::NAN), 0);
        assert_eq!(target_pct(1000.0), 999);
        assert_eq!(target_pct(25_000.0), 999);
    }

    /// Two workouts on one day, even equal ones, have different serial numbers; the date is
    /// the creation time.
    #[test]
    fn file_ids_differ_between_workouts_and_come_from_the_date() {
        let blocks = vec![Block::Step(step(SegmentKind::Steady, 600, 60.0, 70.0, ""))];
        let plan = plan_of(vec![blocks.clone(), blocks]);
        let week = &plan.weeks[0];
        let first = serial_number(&plan, week, &week.workouts[0]);
        let second = serial_number(&plan, week, &week.workouts[1]);
        assert_ne!(first, second);
        assert_ne!(
            workout_file(&plan, week, &week.workouts[0]),
            workout_file(&plan, week, &week.workouts[1])
        );
        // The FIT epoch is Unix time 631065600; 2027-01-05T00:00:00Z is Unix 1799107200.
        assert_eq!(
            i64::from(fit_date_time(week.workouts[0].date)) + 631_065_600,
            1_799_107_200
        );
        assert_eq!(
            fit_date_time(NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()),
            MIN_FIT_DATE_TIME
        );
    }

    /// A workout of more steps than a message index numbers keeps the whole blocks that fit:
    /// never a repeat step without its body.
    #[test]
    fn steps_beyond_the_message_index_are_left_out_by_whole_blocks() {
        let mut blocks =
            vec![Block::Step(step(SegmentKind::Steady, 60, 60.0, 60.0, "")); MAX_STEPS - 1];
        blocks.push(Block::Repeat(Repeat {
            sets: 2,
            work: step(SegmentKind::Work, 60, 100.0, 100.0, ""),
            recovery: None,
            description: String::new(),
        }));
        let plan = plan_of(vec![blocks]);
        assert_eq!(
            workout_steps(&plan.weeks[0].workouts[0]).len(),
            MAX_STEPS - 1
        );
    }

    /// A repeat is its body then a repeat step naming the body's first index and the sets.
    #[test]
    fn a_repeat_points_back_at_its_first_step() {
        let plan = plan_of(vec![vec![
            Block::Step(step(SegmentKind::Warmup, 600, 50.0, 70.0, "")),
            Block::Repeat(Repeat {
                sets: 3,
                work: step(SegmentKind::Work, 600, 88.0, 93.0, "on"),
                recovery: Some(step(SegmentKind::Recovery, 300, 50.0, 55.0, "off")),
                description: "3x10".to_string(),
            }),
        ]]);
        let steps = workout_steps(&plan.weeks[0].workouts[0]);
        assert_eq!(steps.len(), 4);
        let field = |step: &Fields, number: u8| {
            step.iter()
                .find(|(n, _)| *n == number)
                .map(|(_, value)| value.clone())
                .unwrap()
        };
        assert_eq!(
            field(&steps[3], STEP_DURATION_TYPE),
            Value::Enum(DURATION_REPEAT_UNTIL_STEPS_COMPLETE)
        );
        assert_eq!(field(&steps[3], STEP_DURATION_VALUE), Value::Uint32(1));
        assert_eq!(field(&steps[3], STEP_TARGET_VALUE), Value::Uint32(3));
        assert_eq!(
            field(&steps[1], STEP_DURATION_VALUE),
            Value::Uint32(600_000)
        );
        assert_eq!(field(&steps[1], STEP_CUSTOM_TARGET_LOW), Value::Uint32(88));
        assert_eq!(field(&steps[1], STEP_CUSTOM_TARGET_HIGH), Value::Uint32(93));
    }
}
