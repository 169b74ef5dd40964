//! The coach's words: focus, rationale, watch points, coaching notes and monitoring guidance,
//! written from the numbers of the plan they describe.

use super::*;

pub(super) fn watts_of(profile: &AthleteProfile, pct: f64) -> i64 {
    // FTP ≤ 600 W and pct ≤ 200 %, so the watts are small whole numbers.
    (profile.ftp_w * pct / 100.0).round() as i64
}

pub(super) fn watts(profile: &AthleteProfile, pct: f64) -> String {
    format!("{} W", watts_of(profile, pct))
}

pub(super) fn watts_range(profile: &AthleteProfile, low_pct: f64, high_pct: f64) -> String {
    format!(
        "{}–{} W",
        watts_of(profile, low_pct),
        watts_of(profile, high_pct)
    )
}

/// "88–93% FTP (229–242 W)".
pub(super) fn zone_text(profile: &AthleteProfile, (low_pct, high_pct): (f64, f64)) -> String {
    format!(
        "{low_pct:.0}–{high_pct:.0}% FTP ({})",
        watts_range(profile, low_pct, high_pct)
    )
}

pub(super) fn duration_text(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, rest) => format!("{rest} min"),
        (hours, 0) => format!("{hours} h"),
        (hours, rest) => format!("{hours} h {rest:02} min"),
    }
}

pub(super) fn day_names(days: &[Weekday]) -> String {
    join_and(
        &days
            .iter()
            .map(|day| day.name().to_string())
            .collect::<Vec<_>>(),
    )
}

/// "a", "a and b", "a, b and c".
pub(super) fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [head @ .., last] => format!("{} and {last}", head.join(", ")),
    }
}

/// A week's minutes and the week it is measured against (the previous week for load weeks,
/// the block's or plan's biggest week for recovery, peak and taper weeks).
#[derive(Debug, Clone, Copy)]
pub(super) struct Volume {
    pub(super) minutes: i64,
    pub(super) reference_min: i64,
}

impl Volume {
    /// Percent change from the reference week, rounded.
    fn change_pct(self) -> i64 {
        if self.reference_min <= 0 {
            return 0;
        }
        // Minutes of a week: the ratio is small and the cast exact.
        ((small_f64(self.minutes) / small_f64(self.reference_min) - 1.0) * 100.0).round() as i64
    }
}

pub(super) fn phase_rationale(
    profile: &AthleteProfile,
    context: &WeekContext,
    loading_weeks: usize,
    slot: &LoadSlot,
    volume: Volume,
) -> String {
    let position = format!(
        "Week {} of {} in {}",
        context.phase_position(),
        context.phase_weeks,
        context.phase
    );
    let hours = duration_text(volume.minutes);
    let change = volume.change_pct();
    let versus_last = match change {
        _ if volume.reference_min <= 0 => format!(
            "The plan starts at {hours}, {:.0}% of your {} h budget{}.",
            small_f64(volume.minutes) / (profile.weekly_hours * 60.0) * 100.0,
            profile.weekly_hours,
            if profile.recent_weekly_hours.is_some() || profile.current_ctl.is_some() {
                ", close to your recent training"
            } else {
                ""
            }
        ),
        0 => format!("Volume holds at {hours}."),
        rise if rise > 0 => format!("Volume rises {rise}% to {hours}."),
        fall => format!(
            "Volume eases {}% to {hours} after the recovery week.",
            -fall
        ),
    };
    match context.phase {
        _ if context.is_race_week() => {
            let event = context.event.expect("a race week has its event");
            format!(
                "{position}: race week. The event on {} {} ends the week and the plan; only the days before it \
                 train, at {hours} in all ({}% against the biggest week), with openers a day or two out so you \
                 arrive fresh and sharp.",
                event.weekday,
                event.date.format("%Y-%m-%d"),
                change
            )
        }
        _ if context.is_test_week => format!(
            "{position}: an easy week ({hours}, {}% below the biggest week of the block) that ends the cycle with \
             an FTP test, so the next block's targets start from your new figure.",
            -change
        ),
        Phase::Foundation => format!(
            "{position}: aerobic base and muscular endurance come first. Mostly endurance riding plus controlled \
             tempo and sweet-spot work raise the ceiling for harder work, at a cost the body absorbs well. \
             {versus_last}{}",
            if slot.block_length > 1 {
                format!(" (week {} of {} in this block)", slot.position + 1, slot.block_length)
            } else {
                String::new()
            }
        ),
        Phase::Build => format!(
            "{position}: with the base in place, {} now drive fitness up (FTP {:.0} W today), with endurance \
             riding around them. {versus_last}",
            focus_sessions(context.goal.focus),
            profile.ftp_w
        ),
        Phase::Recovery => format!(
            "{position}: after {} loading weeks ({} loading suits {}), volume drops {}% to {hours} and only a few \
             short efforts remain, so the body can absorb the block and adapt. Fitness is built during recovery, \
             not only during the hard weeks.",
            slot.block_length.max(1),
            if loading_weeks == 2 { "2:1" } else { "3:1" },
            if loading_weeks == 2 { "a masters athlete, who recovers more slowly" } else { "most athletes" },
            -change
        ),
        Phase::Peak => format!(
            "{position}: the last block of the cycle {} while keeping race-like intensity, turning the fitness \
             built so far into sharp form.",
            if change < 0 {
                format!("trims volume {}% below the biggest week, to {hours},", -change)
            } else {
                format!("holds volume at {hours}")
            }
        ),
        Phase::Taper => format!(
            "{position}: volume is {}% below the biggest week ({hours}) while short efforts keep intensity and \
             frequency, so fatigue clears and form rises for the event{}.",
            -change,
            match profile.event_date {
                Some(date) => format!(" on {}", date.format("%Y-%m-%d")),
                None => String::new(),
            }
        ),
    }
}

/// The quality work a focus builds with, as a phrase.
pub(super) fn focus_sessions(focus: Focus) -> &'static str {
    match focus {
        Focus::Criterium => "anaerobic 1-min efforts and VO2max intervals",
        Focus::TimeTrial => "long threshold reps at time-trial power and some VO2max work",
        Focus::Climbing => "climbing-style threshold and VO2max efforts",
        Focus::Endurance => "long tempo, sweet spot and some VO2max work",
        Focus::Racing => "threshold, VO2max and anaerobic efforts",
        Focus::General => "threshold and VO2max intervals",
    }
}

pub(super) fn weekly_focus(
    profile: &AthleteProfile,
    context: &WeekContext,
    details: &WeekDetails,
) -> String {
    let emphasis = match context.phase {
        Phase::Foundation => {
            "Aerobic base: most of the week at endurance pace, quality kept controlled."
        }
        Phase::Build => {
            "Raise threshold and VO2max power with structured intervals on well-spaced days."
        }
        Phase::Recovery => "Absorb the last block: easy riding only, extra sleep, no intervals.",
        Phase::Peak => {
            "Sharpen: race-like intensity with less volume; arrive at each session fresh."
        }
        Phase::Taper => {
            "Freshen up: short, sharp efforts and plenty of easy riding; do not add volume."
        }
    };
    let sessions: Vec<String> = details
        .workouts
        .iter()
        .map(|workout| {
            format!(
                "{} {} ({})",
                workout.weekday,
                workout.name,
                duration_text(whole_minutes(workout.minutes()))
            )
        })
        .collect();
    format!(
        "{emphasis} Sessions: {}. Week total {} and about {:.0} TSS at FTP {:.0} W.",
        sessions.join("; "),
        duration_text(whole_minutes(details.minutes())),
        details.tss(),
        profile.ftp_w
    )
}

pub(super) fn watch_points(
    profile: &AthleteProfile,
    context: &WeekContext,
    details: &WeekDetails,
) -> String {
    let phase = context.phase;
    let endurance = watts_range(profile, ENDURANCE_PCT.0, ENDURANCE_PCT.1);
    let hr_note = match profile.max_hr {
        // 75 % of max heart rate is a common ceiling for endurance riding.
        Some(max_hr) => format!(
            " (heart rate mostly below {} bpm)",
            u64::from(max_hr) * 3 / 4
        ),
        None => String::new(),
    };
    let longest = details
        .workouts
        .iter()
        .map(|workout| whole_minutes(workout.minutes()))
        .max()
        .unwrap_or(0);
    match phase {
        _ if context.is_test_week => format!(
            "Keep the easy days truly easy (below {}) so you arrive at the FTP test fresh; test on a day you slept \
             well, fuelled and with a fan or cool road. Pace the first 5 minutes conservatively.",
            watts(profile, 70.0)
        ),
        Phase::Foundation => format!(
            "Keep endurance riding at {endurance}{hr_note}; it should feel easy enough to talk. Sweet-spot and tempo \
             reps should end feeling you could do one more. Fuel the {} ride with 40-60 g carbohydrate per hour.",
            duration_text(longest)
        ),
        Phase::Build => format!(
            "Hit the threshold reps at {} without fading and stop a VO2max set when a rep falls below {}. \
             Easy days stay easy at {endurance}{hr_note}. If resting heart rate is 5+ bpm above normal or sleep is \
             poor, swap the next hard day for an endurance ride.",
            watts_range(profile, 95.0, 100.0),
            watts(profile, 106.0)
        ),
        Phase::Recovery => format!(
            "Ride truly easy: recovery spins below {}, nothing above {} apart from the few short efforts of one \
             ride. Sleep 8+ hours, eat normally (do not diet this week), and expect to feel flat early in the week \
             and fresh by the end.",
            watts(profile, 56.0),
            watts(profile, 70.0)
        ),
        Phase::Peak => format!(
            "Quality over quantity: hold {} on VO2max reps and cut a session short rather than grind through it. \
             Keep easy riding at {endurance}{hr_note}; any sign of illness or unusual fatigue means rest.",
            watts_range(profile, 110.0, 120.0)
        ),
        Phase::Taper => format!(
            "Do not add extra riding: the fitness is banked. Keep openers short and sharp at {}, sleep well, eat \
             enough carbohydrate, and expect the legs to feel restless. Check equipment and logistics now.",
            watts_range(profile, 115.0, 120.0)
        ),
    }
}

pub(super) fn target_ftp(profile: &AthleteProfile, total_weeks: u32) -> f64 {
    let mut gain = (FTP_GAIN_PER_WEEK * f64::from(total_weeks)).min(FTP_GAIN_MAX);
    if profile.age.is_some_and(|age| age >= MASTERS_AGE) {
        gain *= MASTERS_GAIN_FACTOR;
    }
    // A gain of at most 8 % rounded to whole watts stays well within 0.9..=1.25 × FTP.
    (profile.ftp_w * (1.0 + gain)).round()
}

/// What the notes describe: the finished entries and the facts the coach planned them from.
pub(super) struct PlanFacts<'a> {
    pub(super) entries: &'a [WeekOverview],
    pub(super) loading_weeks: usize,
    pub(super) target_ftp: f64,
    pub(super) event: Option<EventDay>,
    pub(super) goal: Goal,
    /// Weeks that hold the coach's FTP test session.
    pub(super) test_weeks: Vec<i64>,
    /// The longest ride of the plan, in minutes.
    pub(super) longest_ride_min: i64,
}

pub(super) fn coaching_notes(profile: &AthleteProfile, plan: &PlanFacts<'_>) -> String {
    let PlanFacts {
        entries,
        loading_weeks,
        target_ftp,
        ..
    } = *plan;
    let weeks = entries.len();
    let count = |phase: Phase| entries.iter().filter(|entry| entry.phase == phase).count();
    let weeks_text = |weeks: usize| {
        if weeks == 1 {
            "1 week".to_string()
        } else {
            format!("{weeks} weeks")
        }
    };
    let mut parts = Vec::new();
    for phase in [Phase::Foundation, Phase::Build, Phase::Peak] {
        if count(phase) > 0 {
            parts.push(format!("{} of {phase}", weeks_text(count(phase))));
        }
    }
    let mut unloading = Vec::new();
    match count(Phase::Recovery) {
        0 => {}
        1 => unloading.push("a recovery week between blocks".to_string()),
        weeks => unloading.push(format!("{weeks} recovery weeks between blocks")),
    }
    if count(Phase::Taper) > 0 {
        unloading.push(format!("a {}-week taper", count(Phase::Taper)));
    }
    let layout = match unloading.is_empty() {
        true => join_and(&parts),
        false => format!("{}, with {}", join_and(&parts), join_and(&unloading)),
    };
    let days = entries
        .first()
        .map(|entry| entry.training_days.clone())
        .unwrap_or_default();
    let weight = match profile.weight_kg {
        Some(kg) if kg > 0.0 => format!(" ({:.1} W/kg)", profile.ftp_w / kg),
        _ => String::new(),
    };
    let gain_w = target_ftp - profile.ftp_w;
    let mut notes = format!(
        "{}, this {weeks}-week plan is built around your {} h weekly budget and your current FTP of {:.0} W{weight}. \
         It runs {layout}. ",
        profile.name,
        profile.weekly_hours,
        profile.ftp_w,
    );
    if count(Phase::Recovery) > 0 {
        let _ = write!(
            notes,
            "Load builds in {} blocks: {} progressively bigger weeks, then an easy week to absorb them{}. ",
            if loading_weeks == 2 { "2:1" } else { "3:1" },
            if loading_weeks == 2 { "two" } else { "up to three" },
            if loading_weeks == 2 { ", the rhythm that suits athletes over 55" } else { "" }
        );
    }
    let build_role = format!("Build adds {}", focus_sessions(plan.goal.focus));
    let roles: Vec<&str> = [
        (
            Phase::Foundation,
            "Foundation builds aerobic endurance with steady rides plus tempo and sweet-spot work",
        ),
        (Phase::Build, build_role.as_str()),
        (
            Phase::Peak,
            "Peak trims volume while keeping race-like intensity",
        ),
        (Phase::Taper, "the taper cuts volume so you finish fresh"),
    ]
    .into_iter()
    .filter(|(phase, _)| count(*phase) > 0)
    .map(|(_, role)| role)
    .collect();
    if !roles.is_empty() {
        let _ = write!(notes, "{}. ", roles.join("; "));
    }
    let which_days = if days.len() == profile.available_days.len() {
        "all of your available days".to_string()
    } else {
        format!(
            "{} of your {} available days",
            days.len(),
            profile.available_days.len()
        )
    };
    match days.len() {
        0 => {}
        1 => {
            let _ = write!(
                notes,
                "You ride on {} ({which_days}): one session a week carries both the quality work and the \
                 endurance riding. ",
                day_names(&days)
            );
        }
        _ => {
            let _ = write!(
                notes,
                "You ride on {} ({which_days}), with quality sessions spaced apart and the long ride where you \
                 have the most time. ",
                day_names(&days)
            );
        }
    }
    if !profile.goals.is_empty() {
        let _ = write!(
            notes,
            "Your goal, \"{}\", sets the direction: the plan aims at FTP {:.0} W ({:+.0} W, {:+.1}%), realistic for {} \
             of consistent training. ",
            profile.goals,
            target_ftp,
            gain_w,
            gain_w / profile.ftp_w * 100.0,
            weeks_text(weeks)
        );
    } else {
        let _ = write!(
            notes,
            "The plan aims at FTP {:.0} W ({:+.0} W, {:+.1}%), realistic for {} of consistent training. ",
            target_ftp,
            gain_w,
            gain_w / profile.ftp_w * 100.0,
            weeks_text(weeks)
        );
    }
    if let Some(event_min) = plan.goal.event_min {
        let _ = write!(
            notes,
            "The long ride grows to {} ({:.0}% of the event's expected {}). ",
            duration_text(plan.longest_ride_min),
            small_f64(plan.longest_ride_min) / small_f64(event_min.max(1)) * 100.0,
            duration_text(event_min)
        );
    }
    match (profile.event_date, plan.event) {
        (Some(_), Some(event)) => {
            let _ = write!(
                notes,
                "The plan ends on your event, {} {} (no workout that day). ",
                event.weekday,
                event.date.format("%Y-%m-%d")
            );
        }
        (Some(date), None) => {
            let _ = write!(
                notes,
                "Your event on {} is after this plan: it builds toward it and ends with an easy FTP-test week \
                 instead of a taper; taper in the weeks just before the event. ",
                date.format("%Y-%m-%d")
            );
        }
        (None, _) => {}
    }
    notes.push_str("Consistency beats heroics: a missed session is skipped, not made up.");
    notes
}

pub(super) fn monitoring_guidance(profile: &AthleteProfile, plan: &PlanFacts<'_>) -> String {
    let entries = plan.entries;
    let recovery_weeks: Vec<String> = entries
        .iter()
        .filter(|entry| entry.phase == Phase::Recovery)
        .map(|entry| entry.week_number.to_string())
        .collect();
    let test_weeks: Vec<String> = plan.test_weeks.iter().map(i64::to_string).collect();
    let retest = if test_weeks.is_empty() {
        "after the plan, once you are rested,".to_string()
    } else {
        format!(
            "with the test session of week{} {}",
            if test_weeks.len() == 1 { "" } else { "s" },
            join_and(&test_weeks)
        )
    };
    let (min_tss, max_tss) = entries
        .iter()
        .fold((f64::INFINITY, 0.0_f64), |(low, high), entry| {
            (low.min(entry.target_tss), high.max(entry.target_tss))
        });
    let mut guidance = format!(
        "{}, re-test FTP {retest} (a 20-min test × 0.95 or a ramp test) and update your zones when it moves by more \
         than 3%; all targets are set from {:.0} W. Rate every session (RPE 1-10) and compare it with the target: \
         sweet spot should feel 6-7, threshold 7-8, endurance 3-4. ",
        profile.name, profile.ftp_w
    );
    if entries.is_empty() {
        guidance.push_str("Weekly load follows the plan's TSS targets. ");
    } else if (max_tss - min_tss).abs() < 0.5 {
        let _ = write!(guidance, "Weekly load is about {max_tss:.0} TSS. ");
    } else {
        let _ = write!(
            guidance,
            "Weekly load runs from about {min_tss:.0} to {max_tss:.0} TSS. "
        );
    }
    guidance.push_str(
        "Check resting heart rate and sleep each morning: 5+ bpm above normal for two days, poor sleep, sore legs \
         that last, or power that feels much harder than usual mean the next hard day becomes an easy ride. ",
    );
    if let Some(max_hr) = profile.max_hr {
        let _ = write!(
            guidance,
            "With a maximum heart rate of {max_hr} bpm, endurance rides should stay mostly below {} bpm. ",
            u64::from(max_hr) * 3 / 4
        );
    }
    if !recovery_weeks.is_empty() {
        guidance.push_str("Keep recovery weeks easy even when you feel good. ");
    }
    guidance.push_str("Stop any session with pain, dizziness or chest discomfort.");
    guidance
}
