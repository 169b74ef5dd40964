//! The HTML report, pure: one self-contained page a rider opens in a browser, phone or
//! printer: the athlete and targets, a phase timeline, weekly hours and TSS, a CTL/ATL/TSB
//! projection, every week as a table and every workout's power profile coloured by Coggan
//! zone, the coaching notes and what the plan checks found. Inline CSS and hand-written SVG
//! (`svg.rs`), no script, no font, image or stylesheet from anywhere, so it shows the same
//! offline; every text of the plan is escaped. The range of an export does not apply: the
//! report describes the whole plan.

use chrono::{Datelike, NaiveDate};

use crate::domain::event::{self, EventKind};
use crate::domain::load::{self, WeekLoad};
use crate::domain::validate::Severity;
use crate::domain::{tss, zones, Phase, SegmentKind, Weekday};
use crate::export::model::{Block, DatedWorkout, ExportPlan, ExportWeek, Finding, Step};
use crate::export::svg::{escape, num, tick_step, Anchor, Label, Svg};

/// The file's name.
pub const FILE_NAME: &str = "report.html";

/// Fill colours of the Coggan zones, zone 1 first: grey, blue, green, yellow, orange, red,
/// purple, the scale trainer apps commonly draw workouts in.
const ZONE_COLORS: [&str; load::ZONES] = [
    "#9aa5b1", "#3b82f6", "#22a55b", "#e5b80b", "#f08a24", "#e0412f", "#9b51e0",
];

/// Colours of the projection's lines.
const CTL_COLOR: &str = "#1d4ed8";
const ATL_COLOR: &str = "#db2777";
const TSB_COLOR: &str = "#d97706";
/// Axis, grid and target marks.
const INK: &str = "#334155";
const GRID: &str = "#d5dbe3";

/// The width of the full-width charts, in user units (a desktop page shows them about 1.3
/// times this size, a phone about half).
const WIDE_W: f64 = 640.0;
/// Label sizes, in user units, as a desktop shows them.
const LABEL: f64 = 13.0;
const SMALL_LABEL: f64 = 11.0;
/// Label sizes on a narrow screen, where the charts shrink to about half their width (the
/// full-width ones) or two thirds (a workout's): the stylesheet sets these so that labels
/// stay about 10 px high.
const PHONE_WIDE_LABEL: f64 = 20.0;
const PHONE_PROFILE_LABEL: f64 = 15.0;
/// The widest screen, in CSS `rem`, that gets the phone layout and label sizes.
const PHONE_MAX_REM: f64 = 34.0;
/// Room for the y axis's labels, left of a chart, and for the week or time labels below it,
/// at their phone sizes.
const AXIS_W: f64 = 48.0;
const PROFILE_AXIS_W: f64 = 44.0;
const AXIS_H: f64 = 26.0;
/// A label is about this many times its size wide per character.
const CHAR_WIDTH: f64 = 0.62;

/// The power profile's size: one workout card wide.
const PROFILE_W: f64 = 480.0;
const PROFILE_H: f64 = 160.0;
/// The profile's y axis reaches at least this % of FTP, so a threshold session sits below the
/// top and easy rides look easy; a harder step raises it.
const PROFILE_MIN_TOP_PCT: f64 = 130.0;
/// Minutes between the profile's time labels: the smallest giving at most `PROFILE_TICKS`.
const TIME_STEPS_MIN: [u32; 9] = [1, 2, 5, 10, 15, 20, 30, 60, 120];
const PROFILE_TICKS: u32 = 6;
/// A time label closer than this to the profile's right edge ends at its tick.
const PROFILE_EDGE_ROOM: f64 = 20.0;
/// Halvings that find where a ramp crosses into the next zone: far below a tenth of a unit.
const BISECTIONS: u32 = 40;

/// The most week numbers labelled under a chart; beyond it every second (third, …) is.
const MAX_WEEK_LABELS: usize = 16;

const DAYS_PER_WEEK: usize = 7;

/// Tick labels of a y axis, right-aligned left of the chart.
const Y_LABEL: Label<'static> = Label {
    size: SMALL_LABEL,
    anchor: Anchor::End,
    class: "axis",
    centered: true,
};
/// Week or time labels below a chart.
const X_LABEL: Label<'static> = Label {
    size: SMALL_LABEL,
    anchor: Anchor::Middle,
    class: "axis",
    centered: false,
};

/// The whole report. Deterministic: the same plan gives the same bytes.
pub fn report(plan: &ExportPlan) -> String {
    let mut out = String::with_capacity(64 * 1024 + plan.weeks.len() * 24 * 1024);
    let name = &plan.athlete.name;
    push(
        &mut out,
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>Training plan: {}</title>\n<style>{STYLE}{}</style>\n</head>\n<body>\n",
            escape(name),
            phone_style()
        ),
    );
    masthead(&mut out, plan);
    out.push_str("<main>\n");
    athlete_section(&mut out, plan);
    overview_section(&mut out, plan);
    load_section(&mut out, plan);
    zones_section(&mut out, plan);
    notes_section(&mut out, plan);
    findings_section(&mut out, plan);
    for week in &plan.weeks {
        week_section(&mut out, plan, week);
    }
    out.push_str("</main>\n");
    footer(&mut out, plan);
    out.push_str("</body>\n</html>\n");
    out
}

fn push(out: &mut String, text: impl AsRef<str>) {
    out.push_str(text.as_ref());
}

fn masthead(out: &mut String, plan: &ExportPlan) {
    push(
        out,
        format!(
            "<header class=\"masthead\">\n<h1>{}: training plan</h1>\n<p>{} weeks, {} to {}{}</p>\n",
            escape(&plan.athlete.name),
            plan.total_weeks(),
            long_date(plan.start_date),
            long_date(plan.end_date()),
            plan.event.map_or(String::new(), |event| format!(
                ", ending on the {} on {}",
                escape(&event_name(event.kind)),
                long_date(event.date)
            )),
        ),
    );
    out.push_str("<nav aria-label=\"Weeks\">");
    for week in &plan.weeks {
        push(
            out,
            format!(
                "<a href=\"#week-{0}\" style=\"border-color:{1}\">W{0}</a>",
                week.week_number,
                phase_color(week.phase)
            ),
        );
    }
    out.push_str("</nav>\n</header>\n");
}

fn athlete_section(out: &mut String, plan: &ExportPlan) {
    let athlete = &plan.athlete;
    let target = plan.overview.target_ftp;
    let gain = target - athlete.ftp_w;
    let mut facts: Vec<(&str, String)> = vec![(
        "FTP",
        format!(
            "{} W now, {} W the target ({}{} W, {}{:.1}%)",
            num(athlete.ftp_w),
            num(target),
            if gain >= 0.0 { "+" } else { "" },
            num(gain),
            if gain >= 0.0 { "+" } else { "" },
            gain / athlete.ftp_w * 100.0
        ),
    )];
    if let Some(weight) = athlete.weight_kg {
        facts.push((
            "Weight",
            format!("{} kg, {:.2} W/kg", num(weight), athlete.ftp_w / weight),
        ));
    }
    if let Some(age) = athlete.age {
        facts.push(("Age", age.to_string()));
    }
    if let Some(gender) = &plan.gender {
        facts.push(("Gender", escape(gender)));
    }
    if let Some(max_hr) = athlete.max_hr {
        facts.push(("Max heart rate", format!("{max_hr} bpm")));
    }
    facts.push((
        "Time to train",
        format!(
            "{} h a week on {}",
            num(athlete.weekly_hours),
            day_list(&athlete.available_days)
        ),
    ));
    if let Some(hours) = athlete.recent_weekly_hours {
        facts.push(("Riding lately", format!("{} h a week", num(hours))));
    }
    if let Some(ctl) = athlete.current_ctl {
        facts.push(("Current CTL", num(ctl)));
    }
    if let Some(experience) = athlete.experience {
        facts.push(("Experience", experience.name().to_string()));
    }
    if let Some(date) = athlete.event_date {
        let details = athlete.event.map_or(String::new(), |details| {
            let hours = details
                .duration_h
                .map_or(String::new(), |hours| format!(", about {} h", num(hours)));
            format!(
                "{}, priority {}{hours}, ",
                escape(&event_name(details.kind)),
                details.priority.name()
            )
        });
        facts.push(("Event", format!("{details}{}", long_date(date))));
    }
    if !athlete.goals.trim().is_empty() {
        facts.push(("Goals", escape(athlete.goals.trim())));
    }
    facts.push(("Plan", escape(&plan.plan_type)));
    out.push_str("<section class=\"card\" id=\"athlete\">\n<h2>Athlete and targets</h2>\n<dl class=\"facts\">\n");
    for (term, value) in facts {
        push(out, format!("<div><dt>{term}</dt><dd>{value}</dd></div>\n"));
    }
    out.push_str("</dl>\n</section>\n");
}

/// Each week's riding time and TSS as its workouts add up, beside its overview's targets.
struct WeekFigures {
    week_number: u32,
    phase: Phase,
    hours: f64,
    tss: f64,
    target_hours: Option<f64>,
    target_tss: Option<f64>,
}

fn week_figures(plan: &ExportPlan) -> Vec<WeekFigures> {
    plan.weeks
        .iter()
        .map(|week| {
            let targets = plan.week_targets(week.week_number);
            WeekFigures {
                week_number: week.week_number,
                phase: week.phase,
                hours: week_seconds(week) as f64 / 3600.0,
                tss: week_tss(week),
                target_hours: targets.map(|entry| entry.total_hours),
                target_tss: targets.map(|entry| entry.target_tss),
            }
        })
        .collect()
}

fn week_seconds(week: &ExportWeek) -> u64 {
    week.workouts.iter().map(DatedWorkout::duration_s).sum()
}

/// As a plan file sums it: the rounded workout TSS, rounded again.
fn week_tss(week: &ExportWeek) -> f64 {
    tss::round_tenth(
        week.workouts
            .iter()
            .map(|workout| tss::round_tenth(workout.tss()))
            .sum(),
    )
}

fn overview_section(out: &mut String, plan: &ExportPlan) {
    let figures = week_figures(plan);
    out.push_str("<section class=\"card\" id=\"overview\">\n<h2>Phases</h2>\n");
    push(out, timeline_svg(plan));
    out.push_str("<p class=\"legend\">");
    for phase in Phase::ALL {
        if plan.weeks.iter().any(|week| week.phase == phase) {
            push(
                out,
                format!(
                    "<span><i style=\"background:{}\"></i>{}</span>",
                    phase_color(phase),
                    phase
                ),
            );
        }
    }
    out.push_str("</p>\n<h2>Weekly hours and TSS</h2>\n<h3>Hours a week</h3>\n");
    push(
        out,
        bar_chart(
            &figures,
            "Hours a week",
            |week| week.hours,
            |week| week.target_hours,
        ),
    );
    out.push_str("<h3>TSS a week</h3>\n");
    push(
        out,
        bar_chart(
            &figures,
            "TSS a week",
            |week| week.tss,
            |week| week.target_tss,
        ),
    );
    out.push_str(
        "<p class=\"legend\"><span><i class=\"bar\"></i>the week's workouts, coloured by phase</span>\
         <span><i class=\"mark\"></i>the overview's target</span></p>\n</section>\n",
    );
}

/// Days from the plan's first Monday.
fn day_index(plan: &ExportPlan, date: NaiveDate) -> i64 {
    (date - plan.start_date).num_days()
}

fn plan_days(plan: &ExportPlan) -> usize {
    DAYS_PER_WEEK * plan.total_weeks().max(1) as usize
}

/// The phases week by week as coloured cells on a time line, each run of one phase named
/// where it has room, and the event day flagged.
fn timeline_svg(plan: &ExportPlan) -> String {
    let height = 72.0;
    let (left, right) = (4.0, 4.0);
    let plot_w = WIDE_W - left - right;
    let days = plan_days(plan) as f64;
    let x = |day: f64| left + day / days * plot_w;
    let band_top = 6.0;
    let band_h = 28.0;
    let mut svg = Svg::new(
        WIDE_W,
        height,
        "chart wide timeline",
        "The plan's phases week by week",
    );
    for week in &plan.weeks {
        let first = f64::from(week.week_number.saturating_sub(1)) * DAYS_PER_WEEK as f64;
        let (from, to) = (x(first), x(first + DAYS_PER_WEEK as f64));
        svg.group("week");
        svg.title(&format!("Week {}: {}", week.week_number, week.phase));
        svg.rect(
            from + 0.5,
            band_top,
            to - from - 1.0,
            band_h,
            phase_color(week.phase),
        );
        svg.end_group();
    }
    // Runs of one phase, named in the middle of the run when the name fits.
    let mut start = 0;
    while start < plan.weeks.len() {
        let phase = plan.weeks[start].phase;
        let mut end = start;
        while end + 1 < plan.weeks.len()
            && plan.weeks[end + 1].phase == phase
            && plan.weeks[end + 1].week_number == plan.weeks[end].week_number + 1
        {
            end += 1;
        }
        let first =
            f64::from(plan.weeks[start].week_number.saturating_sub(1)) * DAYS_PER_WEEK as f64;
        let last = f64::from(plan.weeks[end].week_number) * DAYS_PER_WEEK as f64;
        let width = x(last) - x(first);
        let name = phase.name();
        // Named when the name fits at its phone size, else by its initial, else not at all
        // (the legend and each week's tooltip still say it).
        let fits = |text: &str| width > text.len() as f64 * PHONE_WIDE_LABEL * CHAR_WIDTH + 4.0;
        let label = [name, &name[..1]].into_iter().find(|text| fits(text));
        let style = Label {
            size: LABEL,
            anchor: Anchor::Middle,
            class: "on-color",
            centered: true,
        };
        if let Some(label) = label {
            svg.text(
                (x(first) + x(last)) / 2.0,
                band_top + band_h / 2.0,
                &style,
                label,
            );
        }
        start = end + 1;
    }
    week_labels(
        &mut svg,
        plan.weeks.len(),
        |index| {
            let week = &plan.weeks[index];
            let middle = (f64::from(week.week_number) - 0.5) * DAYS_PER_WEEK as f64;
            (x(middle), week.week_number)
        },
        height - 6.0,
    );
    if let Some(event) = plan.event {
        let at = x(day_index(plan, event.date) as f64 + 0.5);
        svg.group("event");
        svg.title(&format!(
            "Event: {} on {}",
            event_name(event.kind),
            event.date
        ));
        svg.polygon(
            &[
                (at, band_top + band_h),
                (at - 6.0, band_top + band_h + 10.0),
                (at + 6.0, band_top + band_h + 10.0),
            ],
            INK,
        );
        svg.end_group();
    }
    svg.finish()
}

/// Week numbers under a chart, thinned so that at most `MAX_WEEK_LABELS` are written.
fn week_labels(svg: &mut Svg, weeks: usize, at: impl Fn(usize) -> (f64, u32), y: f64) {
    let every = weeks.div_ceil(MAX_WEEK_LABELS).max(1);
    for index in (0..weeks).filter(|index| index % every == 0) {
        let (x, number) = at(index);
        svg.text(x, y, &X_LABEL, &number.to_string());
    }
}

/// A y axis from `low` to `high` with round ticks and grid lines; returns the mapping from a
/// value to its height in the drawing.
fn y_axis(
    svg: &mut Svg,
    (low, high): (f64, f64),
    (top, bottom): (f64, f64),
    (left, right): (f64, f64),
    suffix: &str,
) -> impl Fn(f64) -> f64 {
    let span = (high - low).max(f64::EPSILON);
    let y = move |value: f64| bottom - (value - low) / span * (bottom - top);
    let step = tick_step(low, high, 4);
    let mut tick = (low / step).ceil() * step;
    while tick <= high + step * 1e-9 {
        svg.line((left, y(tick)), (right, y(tick)), GRID, 1.0);
        svg.text(
            left - 4.0,
            y(tick),
            &Y_LABEL,
            &format!("{}{suffix}", num(tick)),
        );
        tick += step;
    }
    y
}

/// Bars of one figure per week, coloured by phase, each with its target marked across it.
fn bar_chart(
    weeks: &[WeekFigures],
    title: &str,
    value: impl Fn(&WeekFigures) -> f64,
    target: impl Fn(&WeekFigures) -> Option<f64>,
) -> String {
    let height = 180.0;
    let (top, bottom) = (10.0, height - AXIS_H);
    let (left, right) = (AXIS_W, WIDE_W - 6.0);
    let highest = weeks
        .iter()
        .flat_map(|week| [value(week), target(week).unwrap_or(0.0)])
        .filter(|figure| figure.is_finite())
        .fold(0.0, f64::max);
    let step = tick_step(0.0, highest.max(1.0), 4);
    let high = (highest.max(1.0) / step).ceil() * step;
    let mut svg = Svg::new(WIDE_W, height, "chart wide bars", title);
    let y = y_axis(&mut svg, (0.0, high), (top, bottom), (left, right), "");
    let band = (right - left) / weeks.len().max(1) as f64;
    for (index, week) in weeks.iter().enumerate() {
        let x = left + band * index as f64;
        let bar_w = band * 0.72;
        let bar_x = x + (band - bar_w) / 2.0;
        let figure = value(week);
        svg.group("week");
        let planned =
            target(week).map_or(String::new(), |target| format!(", target {}", num(target)));
        svg.title(&format!(
            "Week {} ({}): {}{planned}",
            week.week_number,
            week.phase,
            num(figure)
        ));
        svg.rect(
            bar_x,
            y(figure),
            bar_w,
            bottom - y(figure),
            phase_color(week.phase),
        );
        if let Some(target) = target(week).filter(|target| target.is_finite()) {
            svg.rect(
                bar_x - band * 0.08,
                y(target) - 1.25,
                bar_w + band * 0.16,
                2.5,
                INK,
            );
        }
        svg.end_group();
    }
    svg.line((left, bottom), (right, bottom), INK, 1.0);
    week_labels(
        &mut svg,
        weeks.len(),
        |index| (left + band * (index as f64 + 0.5), weeks[index].week_number),
        height - 5.0,
    );
    svg.finish()
}

/// The daily TSS of the plan's calendar, day 0 its first Monday.
fn daily_tss(plan: &ExportPlan) -> Vec<f64> {
    let mut days = vec![0.0; plan_days(plan)];
    for week in &plan.weeks {
        for workout in &week.workouts {
            let index = usize::try_from(day_index(plan, workout.date)).ok();
            if let Some(day) = index.and_then(|index| days.get_mut(index)) {
                *day += workout.tss();
            }
        }
    }
    days
}

/// The CTL the projection starts from, and how it was chosen: the athlete's own when the
/// profile gives it, else the one the plan checks assume (week 1 held steady).
fn start_ctl(plan: &ExportPlan) -> (f64, &'static str) {
    match plan.athlete.current_ctl {
        Some(ctl) => (ctl, "the athlete's current CTL from the profile"),
        None => (
            load::implied_start_ctl(plan.weeks.first().map_or(0.0, week_tss)),
            "the CTL that week 1 would hold steady (its TSS ÷ 7), as the plan checks assume when the profile gives no current CTL",
        ),
    }
}

fn load_section(out: &mut String, plan: &ExportPlan) {
    let (start, why) = start_ctl(plan);
    let loads: Vec<WeekLoad> = daily_tss(plan)
        .chunks(DAYS_PER_WEEK)
        .enumerate()
        .map(|(index, days)| {
            let mut daily_tss = [0.0; DAYS_PER_WEEK];
            daily_tss.copy_from_slice(days);
            let week_number = index as u32 + 1;
            WeekLoad {
                week_number: i64::from(week_number),
                phase: plan
                    .week_targets(week_number)
                    .map_or(Phase::Foundation, |entry| entry.phase),
                hours: 0.0,
                tss: days.iter().sum(),
                daily_tss,
                threshold_minutes: None,
            }
        })
        .collect();
    // The series reads each week's daily TSS alone; the other figures are not drawn here.
    let series = load::series(&loads, start);
    out.push_str("<section class=\"card\" id=\"load\">\n<h2>Fitness, fatigue and form</h2>\n");
    push(out, load_svg(plan, &series, start));
    push(
        out,
        format!(
            "<p class=\"legend\"><span><i style=\"background:{CTL_COLOR}\"></i>CTL, fitness</span>\
             <span><i style=\"background:{ATL_COLOR}\"></i>ATL, fatigue</span>\
             <span><i style=\"background:{TSB_COLOR}\"></i>TSB, form</span></p>\n\
             <p class=\"note\">A projection, if every workout is ridden as planned: each day's planned TSS \
             moves CTL over {} days and ATL over {} days (the Performance Manager model); TSB is the \
             day before's CTL minus its ATL. It starts at CTL = ATL = {}, {}.{}</p>\n</section>\n",
            num(load::CTL_DAYS),
            num(load::ATL_DAYS),
            num(start),
            why,
            series.last().map_or(String::new(), |last| format!(
                " On the plan's last day: CTL {}, ATL {}, TSB {}.",
                num(last.ctl),
                num(last.atl),
                num(last.tsb)
            ))
        ),
    );
}

fn load_svg(plan: &ExportPlan, series: &[load::Day], start: f64) -> String {
    let height = 230.0;
    let (top, bottom) = (10.0, height - AXIS_H);
    let (left, right) = (AXIS_W, WIDE_W - 6.0);
    let values = series
        .iter()
        .flat_map(|day| [day.ctl, day.atl, day.tsb])
        .chain([start, 0.0]);
    let (lowest, highest) = values.fold((0.0_f64, 0.0_f64), |(low, high), value| {
        (low.min(value), high.max(value))
    });
    let step = tick_step(lowest, highest.max(1.0), 5);
    let (low, high) = (
        (lowest / step).floor() * step,
        (highest.max(1.0) / step).ceil() * step,
    );
    let mut svg = Svg::new(
        WIDE_W,
        height,
        "chart wide load",
        "Projected CTL, ATL and TSB, day by day",
    );
    let y = y_axis(&mut svg, (low, high), (top, bottom), (left, right), "");
    let days = series.len().max(1) as f64;
    let x = |day: f64| left + day / days * (right - left);
    for week in 0..plan.total_weeks() {
        let at = x(f64::from(week) * DAYS_PER_WEEK as f64);
        svg.line((at, top), (at, bottom), GRID, 0.5);
    }
    svg.line((left, y(0.0)), (right, y(0.0)), INK, 1.0);
    if let Some(event) = plan.event {
        let at = x(day_index(plan, event.date) as f64);
        svg.group("event");
        svg.title(&format!("Event day: {}", long_date(event.date)));
        svg.polyline(&[(at, top), (at, bottom)], INK, 1.0, true);
        svg.end_group();
    }
    // Each day's values at its end, after a first point at the start of day 0.
    let line = |pick: fn(&load::Day) -> f64, first: f64| -> Vec<(f64, f64)> {
        std::iter::once((x(0.0), y(first)))
            .chain(
                series
                    .iter()
                    .enumerate()
                    .map(|(index, day)| (x(index as f64 + 1.0), y(pick(day)))),
            )
            .collect()
    };
    // A day's TSB is the CTL minus the ATL at the end of the day before: the same line drawn
    // through the day boundaries, the event day's form where its day starts.
    svg.polyline(&line(|day| day.ctl - day.atl, 0.0), TSB_COLOR, 1.5, false);
    svg.polyline(&line(|day| day.atl, start), ATL_COLOR, 1.5, false);
    svg.polyline(&line(|day| day.ctl, start), CTL_COLOR, 2.5, false);
    week_labels(
        &mut svg,
        plan.total_weeks() as usize,
        |index| {
            (
                x((index as f64 + 0.5) * DAYS_PER_WEEK as f64),
                index as u32 + 1,
            )
        },
        height - 5.0,
    );
    svg.finish()
}

fn zones_section(out: &mut String, plan: &ExportPlan) {
    let mut seconds = [0_u64; load::ZONES];
    for week in &plan.weeks {
        for step in week.workouts.iter().flat_map(DatedWorkout::steps) {
            seconds[zone_index(step.mid_pct())] += u64::from(step.duration_s);
        }
    }
    let total = seconds.iter().sum::<u64>().max(1) as f64;
    out.push_str("<section class=\"card\" id=\"zones\">\n<h2>Power zones</h2>\n");
    let mut svg = Svg::new(
        WIDE_W,
        30.0,
        "chart wide zone-share",
        "Time in each zone over the plan",
    );
    let mut x = 0.0;
    for (index, share) in seconds.iter().map(|&s| s as f64 / total).enumerate() {
        svg.group("zone");
        svg.title(&format!(
            "Z{}: {:.0}% of the riding time",
            index + 1,
            share * 100.0
        ));
        svg.rect(x, 0.0, share * WIDE_W, 30.0, ZONE_COLORS[index]);
        svg.end_group();
        x += share * WIDE_W;
    }
    push(out, svg.finish());
    out.push_str(
        "<table class=\"zones\">\n<thead><tr><th>Zone</th><th>% FTP</th><th>Watts</th><th class=\"n\">Time</th></tr></thead>\n<tbody>\n",
    );
    for zone in zones::power_zones(plan.athlete.ftp_w) {
        let index = usize::from(zone.zone.saturating_sub(1)).min(load::ZONES - 1);
        let (pct, watts) = match (zone.high_pct, zone.high_w) {
            (Some(high_pct), Some(high_w)) => (
                format!("{}–{}", num(zone.low_pct), num(high_pct)),
                format!("{}–{}", zone.low_w, high_w),
            ),
            _ => (
                format!("{}+", num(zone.low_pct)),
                format!("{}+", zone.low_w),
            ),
        };
        push(
            out,
            format!(
                "<tr><td class=\"name\">{} {}</td><td>{pct}</td><td>{watts}</td><td class=\"n\">{} ({:.0}%)</td></tr>\n",
                zone_chip(zone.zone),
                zone.name,
                total_text(seconds[index]),
                seconds[index] as f64 / total * 100.0
            ),
        );
    }
    out.push_str("</tbody>\n</table>\n<p class=\"note\">The bar and the last column: the plan's riding time in each zone, each step counted in the zone of the middle of its power range.</p>\n</section>\n");
}

fn zone_index(power_pct: f64) -> usize {
    usize::from(zones::zone_of(power_pct).saturating_sub(1)).min(load::ZONES - 1)
}

fn zone_chip(zone: u8) -> String {
    let index = usize::from(zone.saturating_sub(1)).min(load::ZONES - 1);
    format!(
        "<span class=\"zone\" style=\"background:{}\">Z{zone}</span>",
        ZONE_COLORS[index]
    )
}

fn notes_section(out: &mut String, plan: &ExportPlan) {
    for (id, title, text) in [
        (
            "coaching-notes",
            "Coaching notes",
            &plan.overview.coaching_notes,
        ),
        (
            "monitoring-guidance",
            "Monitoring guidance",
            &plan.overview.monitoring_guidance,
        ),
    ] {
        if text.trim().is_empty() {
            continue;
        }
        push(
            out,
            format!(
                "<section class=\"card prose\" id=\"{id}\">\n<h2>{title}</h2>\n{}</section>\n",
                paragraphs(text)
            ),
        );
    }
}

/// Free text as paragraphs: a blank line starts a new one, a line break stays one.
fn paragraphs(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n");
    normalized
        .split("\n\n")
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| format!("<p>{}</p>\n", escape(part).replace('\n', "<br>\n")))
        .collect()
}

fn findings_section(out: &mut String, plan: &ExportPlan) {
    out.push_str("<section class=\"card\" id=\"checks\">\n<h2>Plan checks</h2>\n");
    let errors = plan
        .findings
        .iter()
        .filter(|finding| finding.severity == Severity::Error)
        .count();
    let warnings = plan.findings.len() - errors;
    if plan.findings.is_empty() {
        out.push_str("<p>The plan checks of <code>periodize validate</code> (default rules) find nothing to report.</p>\n");
    } else {
        push(
            out,
            format!(
                "<p>The plan checks of <code>periodize validate</code> (default rules) report {errors} error(s) and {warnings} warning(s).</p>\n",
            ),
        );
        findings_list(out, plan.findings.iter(), true);
    }
    out.push_str("</section>\n");
}

fn findings_list<'a>(out: &mut String, findings: impl Iterator<Item = &'a Finding>, link: bool) {
    out.push_str("<ul class=\"findings\">\n");
    for finding in findings {
        let severity = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let week = match (finding.week, link) {
            (Some(week), true) => format!("<a class=\"chip\" href=\"#week-{week}\">W{week}</a> "),
            _ => String::new(),
        };
        let rule = finding.rule.map_or(String::new(), |rule| {
            format!("<code>{}</code> ", rule.name())
        });
        push(
            out,
            format!(
                "<li class=\"{severity}\"><span class=\"badge\">{severity}</span> {week}{rule}{}</li>\n",
                escape(&finding.message)
            ),
        );
    }
    out.push_str("</ul>\n");
}

fn week_section(out: &mut String, plan: &ExportPlan, week: &ExportWeek) {
    let number = week.week_number;
    let monday = event::date_of(plan.start_date, number, Weekday::Monday);
    let last_day =
        event::date_of(plan.start_date, number, Weekday::Sunday).min(plan.end_date().max(monday));
    let targets = plan.week_targets(number);
    push(
        out,
        format!(
            "<section class=\"card week\" id=\"week-{number}\">\n<h2><span class=\"phase\" style=\"background:{}\">{}</span> Week {number}</h2>\n<p class=\"dates\">{} to {}</p>\n",
            phase_color(week.phase),
            week.phase,
            long_date(monday),
            long_date(last_day)
        ),
    );
    let seconds = week_seconds(week);
    let planned = targets.map_or(String::new(), |entry| {
        format!(
            " (planned {} and {} TSS)",
            total_text((entry.total_hours * 3600.0).round().max(0.0) as u64),
            num(entry.target_tss)
        )
    });
    push(
        out,
        format!(
            "<p class=\"summary\">{} workout(s), {} and {} TSS{planned}</p>\n",
            week.workouts.len(),
            total_text(seconds),
            num(week_tss(week))
        ),
    );
    if let Some(entry) = targets {
        out.push_str("<dl class=\"week-notes\">\n");
        for (term, text) in [
            ("Focus", &entry.weekly_focus),
            ("Why this phase", &entry.phase_rationale),
            ("Watch", &entry.weekly_watch_points),
        ] {
            if !text.trim().is_empty() {
                push(
                    out,
                    format!(
                        "<div><dt>{term}</dt><dd>{}</dd></div>\n",
                        escape(text.trim())
                    ),
                );
            }
        }
        out.push_str("</dl>\n");
    }
    week_table(out, plan, week, monday, last_day);
    let findings: Vec<&Finding> = plan
        .findings
        .iter()
        .filter(|finding| finding.week == Some(number))
        .collect();
    if !findings.is_empty() {
        out.push_str("<h3>Plan checks this week</h3>\n");
        findings_list(out, findings.into_iter(), false);
    }
    out.push_str("<div class=\"workouts\">\n");
    for (index, workout) in week.workouts.iter().enumerate() {
        workout_card(out, plan, week, index, workout);
    }
    out.push_str("</div>\n</section>\n");
}

fn workout_id(week: &ExportWeek, index: usize) -> String {
    format!("w{}-{}", week.week_number, index + 1)
}

/// Every day of the week, Monday first, up to the plan's last day: its workouts, the event,
/// or rest.
fn week_table(
    out: &mut String,
    plan: &ExportPlan,
    week: &ExportWeek,
    monday: NaiveDate,
    last_day: NaiveDate,
) {
    out.push_str(
        "<table class=\"days\">\n<thead><tr><th>Day</th><th>Date</th><th>Workout</th><th class=\"n\">Time</th><th class=\"n\">TSS</th><th>Zone</th></tr></thead>\n<tbody>\n",
    );
    let mut date = monday;
    while date <= last_day {
        let day = short_weekday(date);
        let short = short_date(date);
        let mut any = false;
        for (index, workout) in week
            .workouts
            .iter()
            .enumerate()
            .filter(|(_, w)| w.date == date)
        {
            any = true;
            push(
                out,
                format!(
                    "<tr><td>{day}</td><td>{short}</td><td class=\"name\"><a href=\"#{}\">{}</a></td><td class=\"n\">{}</td><td class=\"n\">{:.0}</td><td>{}</td></tr>\n",
                    workout_id(week, index),
                    escape(&workout.name),
                    duration_text(workout.duration_s()),
                    workout.tss(),
                    zone_chip(workout.top_zone())
                ),
            );
        }
        if let Some(event) = plan.event.filter(|event| event.date == date) {
            any = true;
            push(
                out,
                format!(
                    "<tr class=\"event\"><td>{day}</td><td>{short}</td><td class=\"name\" colspan=\"4\">Event day: {}</td></tr>\n",
                    escape(&event_name(event.kind))
                ),
            );
        }
        if !any {
            push(
                out,
                format!("<tr class=\"rest\"><td>{day}</td><td>{short}</td><td class=\"name\" colspan=\"4\">Rest</td></tr>\n"),
            );
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    out.push_str("</tbody>\n</table>\n");
}

fn workout_card(
    out: &mut String,
    plan: &ExportPlan,
    week: &ExportWeek,
    index: usize,
    workout: &DatedWorkout,
) {
    push(
        out,
        format!(
            "<article class=\"workout\" id=\"{}\">\n<div class=\"head\">\n<h3>{}</h3>\n<p class=\"meta\">{} · {} · {:.0} TSS · top zone {}</p>\n",
            workout_id(week, index),
            escape(&workout.name),
            long_date(workout.date),
            duration_text(workout.duration_s()),
            workout.tss(),
            zone_chip(workout.top_zone())
        ),
    );
    push(out, profile_svg(plan.athlete.ftp_w, workout));
    out.push_str("</div>\n<div class=\"body\">\n");
    if !workout.description.trim().is_empty() {
        push(
            out,
            format!("<p>{}</p>\n", escape(workout.description.trim())),
        );
    }
    if let Some(detailed) = workout
        .detailed_description
        .as_deref()
        .map(str::trim)
        .filter(|detailed| !detailed.is_empty() && *detailed != workout.description.trim())
    {
        push(
            out,
            format!("<div class=\"detail\">{}</div>\n", paragraphs(detailed)),
        );
    }
    out.push_str("<ol class=\"structure\">\n");
    for block in &workout.blocks {
        push(
            out,
            format!("<li>{}</li>\n", block_text(plan.athlete.ftp_w, block)),
        );
    }
    out.push_str("</ol>\n</div>\n</article>\n");
}

/// Where a step's power starts and ends, % of FTP: a warm-up ramps up, a cool-down down, any
/// other step holds the middle of its range.
fn ridden(step: &Step) -> (f64, f64) {
    match step.kind {
        SegmentKind::Warmup => (step.low_pct, step.high_pct),
        SegmentKind::Cooldown => (step.high_pct, step.low_pct),
        _ => (step.mid_pct(), step.mid_pct()),
    }
}

/// The parts of a step from `from` to `to` (0 to 1 along it) of one zone each: a held step is
/// one part; a ramp is cut where the zone it rides in changes, found by halving the interval
/// with the domain's own `zone_of`, so the zones' bounds are the domain's and nowhere else.
fn zone_parts(start_pct: f64, end_pct: f64) -> Vec<(f64, f64, u8)> {
    let power = |at: f64| start_pct + (end_pct - start_pct) * at;
    let mut parts = Vec::new();
    let mut from = 0.0;
    while from < 1.0 {
        let zone = zones::zone_of(power(from));
        let to = if zones::zone_of(power(1.0)) == zone {
            1.0
        } else {
            let (mut inside, mut outside) = (from, 1.0);
            for _ in 0..BISECTIONS {
                let middle = (inside + outside) / 2.0;
                if zones::zone_of(power(middle)) == zone {
                    inside = middle;
                } else {
                    outside = middle;
                }
            }
            outside
        };
        parts.push((from, to, zone));
        from = to;
    }
    parts
}

/// The workout's power over time: each step a bar (a held step) or a slope (a ramp), coloured
/// by zone, with the FTP line and time and % FTP axes.
fn profile_svg(ftp_w: f64, workout: &DatedWorkout) -> String {
    let (top, bottom) = (8.0, PROFILE_H - AXIS_H);
    let (left, right) = (PROFILE_AXIS_W, PROFILE_W - 6.0);
    let total_s = workout.duration_s().max(1) as f64;
    let peak = workout
        .steps()
        .map(|step| step.low_pct.max(step.high_pct))
        .fold(PROFILE_MIN_TOP_PCT, f64::max);
    let high = (peak / 10.0).ceil() * 10.0;
    let mut svg = Svg::new(
        PROFILE_W,
        PROFILE_H,
        "chart profile",
        &format!("Power profile of {}", workout.name),
    );
    let y = y_axis(&mut svg, (0.0, high), (top, bottom), (left, right), "%");
    let x = |seconds: f64| left + seconds / total_s * (right - left);
    let mut elapsed = 0.0;
    for step in workout.steps() {
        let duration = f64::from(step.duration_s);
        let (start_pct, end_pct) = ridden(step);
        // The step as ridden, exactly (the drawing rounds to a tenth of a unit).
        svg.group_with_data(
            "step",
            &[
                ("seconds", step.duration_s.to_string()),
                ("start-pct", start_pct.to_string()),
                ("end-pct", end_pct.to_string()),
            ],
        );
        svg.title(&step_title(ftp_w, step));
        for (from, to, zone) in zone_parts(start_pct, end_pct) {
            let power = |at: f64| start_pct + (end_pct - start_pct) * at;
            let (x0, x1) = (x(elapsed + duration * from), x(elapsed + duration * to));
            svg.polygon(
                &[
                    (x0, bottom),
                    (x0, y(power(from))),
                    (x1, y(power(to))),
                    (x1, bottom),
                ],
                ZONE_COLORS[usize::from(zone.saturating_sub(1)).min(load::ZONES - 1)],
            );
        }
        svg.end_group();
        elapsed += duration;
    }
    svg.polyline(&[(left, y(100.0)), (right, y(100.0))], INK, 1.0, true);
    let ftp_label = Label {
        anchor: Anchor::End,
        class: "axis halo",
        ..X_LABEL
    };
    svg.text(
        right - 2.0,
        y(100.0) - 4.0,
        &ftp_label,
        &format!("FTP {} W", num(ftp_w)),
    );
    svg.line((left, bottom), (right, bottom), INK, 1.0);
    let total_min = total_s / 60.0;
    let step_min = TIME_STEPS_MIN
        .into_iter()
        .find(|step| total_min / f64::from(*step) <= f64::from(PROFILE_TICKS))
        .unwrap_or(TIME_STEPS_MIN[TIME_STEPS_MIN.len() - 1]);
    let mut minute = 0;
    while f64::from(minute) <= total_min {
        let at = x(f64::from(minute) * 60.0);
        // The first label starts at the axis and one at the right edge ends there, so
        // neither is cut off.
        let anchor = if minute == 0 {
            Anchor::Start
        } else if at > right - PROFILE_EDGE_ROOM {
            Anchor::End
        } else {
            Anchor::Middle
        };
        let style = Label { anchor, ..X_LABEL };
        svg.text(
            at,
            PROFILE_H - 6.0,
            &style,
            &format!("{}:{:02}", minute / 60, minute % 60),
        );
        minute += step_min;
    }
    svg.finish()
}

fn watts(ftp_w: f64, pct: f64) -> String {
    format!("{:.0}", ftp_w * pct / 100.0)
}

/// A step's target in words: `50→70% FTP (116→162 W)` for a ramp, `88–93% FTP (204–216 W)`
/// for a band, `100% FTP (232 W)` for one power.
fn target_text(ftp_w: f64, step: &Step) -> String {
    let (low, high) = (step.low_pct, step.high_pct);
    match step.kind {
        SegmentKind::Warmup | SegmentKind::Cooldown if low != high => {
            let (start, end) = ridden(step);
            format!(
                "{}→{}% FTP ({}→{} W)",
                num(start),
                num(end),
                watts(ftp_w, start),
                watts(ftp_w, end)
            )
        }
        _ if low != high => format!(
            "{}–{}% FTP ({}–{} W)",
            num(low),
            num(high),
            watts(ftp_w, low),
            watts(ftp_w, high)
        ),
        _ => format!("{}% FTP ({} W)", num(low), watts(ftp_w, low)),
    }
}

fn kind_text(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::Warmup => "warm-up",
        SegmentKind::Cooldown => "cool-down",
        SegmentKind::Steady => "steady",
        SegmentKind::Tempo => "tempo",
        SegmentKind::Interval => "interval",
        SegmentKind::Work => "work",
        SegmentKind::Recovery => "recovery",
    }
}

fn step_title(ftp_w: f64, step: &Step) -> String {
    let mut title = format!(
        "{} {}, {}, Z{}",
        duration_text(u64::from(step.duration_s)),
        kind_text(step.kind),
        target_text(ftp_w, step),
        zones::zone_of(step.mid_pct())
    );
    if !step.description.trim().is_empty() {
        title.push_str(": ");
        title.push_str(step.description.trim());
    }
    title
}

/// A block of the structure list, escaped.
fn block_text(ftp_w: f64, block: &Block) -> String {
    let step_words = |step: &Step| {
        format!(
            "{} {} at {}",
            duration_text(u64::from(step.duration_s)),
            kind_text(step.kind),
            target_text(ftp_w, step)
        )
    };
    let (main, description) = match block {
        Block::Step(step) => (step_words(step), step.description.trim()),
        Block::Repeat(repeat) => (
            format!(
                "{} × ({}{})",
                repeat.sets,
                step_words(&repeat.work),
                repeat
                    .recovery
                    .as_ref()
                    .map_or(String::new(), |recovery| format!(
                        ", then {}",
                        step_words(recovery)
                    ))
            ),
            repeat.description.trim(),
        ),
    };
    if description.is_empty() {
        format!("<strong>{}</strong>", escape(&main))
    } else {
        format!(
            "<strong>{}</strong> <span class=\"muted\">{}</span>",
            escape(&main),
            escape(description)
        )
    }
}

fn footer(out: &mut String, plan: &ExportPlan) {
    let made = plan.provenance.as_ref().map_or(String::new(), |made| {
        format!(
            " Run {}, {} ({}).",
            escape(&made.run_id),
            escape(&made.provider),
            escape(&made.model)
        )
    });
    let when = plan
        .generated_at
        .as_deref()
        .map_or(String::new(), |at| format!(" Plan made {}.", escape(at)));
    push(
        out,
        format!(
            "<footer><p>Written by periodize {} from the plan file.{made}{when} Nothing on this page is fetched from the network.</p></footer>\n",
            env!("CARGO_PKG_VERSION")
        ),
    );
}

/// A phase's colour, shared by the timeline, the bars and the week headings.
fn phase_color(phase: Phase) -> &'static str {
    match phase {
        Phase::Foundation => "#3f7cc4",
        Phase::Build => "#e0762c",
        Phase::Recovery => "#4fae6a",
        Phase::Peak => "#c2383a",
        Phase::Taper => "#8a64c4",
    }
}

/// `gran fondo` for `gran_fondo`; `event` for an event of no particular kind.
fn event_name(kind: EventKind) -> String {
    match kind {
        EventKind::None => "event".to_string(),
        kind => kind.name().replace('_', " "),
    }
}

fn day_list(days: &[Weekday]) -> String {
    days.iter()
        .map(|day| day.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Tue 8 Dec 2026`.
fn long_date(date: NaiveDate) -> String {
    format!("{} {}", short_weekday(date), date.format("%-d %b %Y"))
}

/// `8 Dec`.
fn short_date(date: NaiveDate) -> String {
    date.format("%-d %b").to_string()
}

/// `Tue`.
fn short_weekday(date: NaiveDate) -> &'static str {
    &Weekday::ALL[date.weekday().num_days_from_monday() as usize].name()[..3]
}

/// A total (a week's, a zone's) to the nearest minute: `6 h 53 min`.
fn total_text(seconds: u64) -> String {
    duration_text((seconds + 30) / 60 * 60)
}

/// `45 min`, `1 h 05 min`, `30 s`, `6 min 20 s`.
fn duration_text(seconds: u64) -> String {
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, rest) {
        (0, 0) => format!("{minutes} min"),
        (0, _) if minutes == 0 => format!("{rest} s"),
        (0, _) => format!("{minutes} min {rest} s"),
        (_, 0) if minutes == 0 => format!("{hours} h"),
        (_, 0) => format!("{hours} h {minutes:02} min"),
        _ => format!("{hours} h {minutes:02} min {rest} s"),
    }
}

/// The page's style: readable on a phone (one column, tables that fit), on a desktop (cards
/// in a grid up to a comfortable width) and on paper (no backgrounds but the charts', each
/// week from a new page, no table or workout split across pages).
const STYLE: &str = r#"
:root { --ink: #1e293b; --muted: #64748b; --line: #e2e8f0; --card: #ffffff; --page: #f1f5f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--page); overflow-wrap: anywhere; }
.masthead { background: #1e293b; color: #fff; padding: 1.25rem 1rem 0.75rem; }
.masthead h1 { margin: 0 auto; max-width: 60rem; font-size: 1.6rem; line-height: 1.2; }
.masthead p { margin: 0.35rem auto 0.75rem; max-width: 60rem; color: #cbd5e1; }
nav { display: flex; flex-wrap: wrap; gap: 0.35rem; max-width: 60rem; margin: 0 auto; }
nav a { color: #fff; text-decoration: none; font-size: 0.85rem; padding: 0.1rem 0.5rem; border: 2px solid; border-radius: 1rem; }
main { max-width: 60rem; margin: 0 auto; padding: 0.75rem; }
.card { background: var(--card); border-radius: 0.75rem; padding: 1rem; margin: 0 0 0.9rem; box-shadow: 0 1px 3px rgba(15, 23, 42, 0.08); }
h2 { font-size: 1.25rem; margin: 0 0 0.6rem; }
h3 { font-size: 1.05rem; margin: 0.9rem 0 0.3rem; }
.card > h2 ~ h2 { margin-top: 1.2rem; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0.5rem 1.25rem; margin: 0; }
.facts dt, .week-notes dt { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); }
.facts dd, .week-notes dd { margin: 0; }
.week-notes { margin: 0.5rem 0; }
.week-notes div { margin-bottom: 0.4rem; }
svg.chart { display: block; width: 100%; height: auto; margin: 0.25rem 0; }
svg text { fill: var(--ink); font-family: inherit; }
svg text.axis { fill: var(--muted); }
svg text.halo { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
svg text.on-color { fill: #fff; font-weight: 600; }
.legend { display: flex; flex-wrap: wrap; gap: 0.3rem 1rem; font-size: 0.85rem; color: var(--muted); margin: 0.3rem 0; }
.legend i { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 0.2rem; margin-right: 0.3rem; vertical-align: -0.1rem; }
.legend i.bar { background: #94a3b8; }
.legend i.mark { background: #334155; height: 0.2rem; vertical-align: 0.2rem; }
.note, .dates, .summary, .meta, .muted { color: var(--muted); }
.note { font-size: 0.9rem; }
.dates, .summary { margin: 0.1rem 0; }
.phase, .zone, .badge { display: inline-block; color: #fff; border-radius: 0.3rem; padding: 0 0.4rem; font-size: 0.8rem; font-weight: 600; vertical-align: 0.1rem; }
.zone { min-width: 2.1rem; text-align: center; }
table { width: 100%; border-collapse: collapse; font-size: 0.92rem; margin: 0.5rem 0; }
th, td { text-align: left; padding: 0.3rem 0.35rem; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: normal; white-space: nowrap; }
td.name { white-space: normal; overflow-wrap: anywhere; width: 100%; }
th { font-size: 0.78rem; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); }
td.n, th.n { text-align: right; white-space: nowrap; }
tr.rest td { color: var(--muted); }
tr.event td { font-weight: 600; }
td a { color: inherit; }
.workouts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(24rem, 100%), 1fr)); gap: 0.9rem; margin-top: 0.6rem; }
.workout { border: 1px solid var(--line); border-radius: 0.6rem; padding: 0.75rem; }
.workout h3 { margin-top: 0; }
.workout .meta { margin: 0 0 0.3rem; font-size: 0.88rem; }
.workout p, .detail p { margin: 0.4rem 0; }
.detail { font-size: 0.92rem; }
.structure { padding-left: 1.3rem; margin: 0.4rem 0 0; font-size: 0.9rem; }
.structure li { margin-bottom: 0.25rem; }
.findings { list-style: none; padding: 0; margin: 0.4rem 0; }
.findings li { padding: 0.35rem 0; border-bottom: 1px solid var(--line); }
.findings .badge { background: #b45309; }
.chip { font-size: 0.8rem; padding: 0 0.4rem; border: 1px solid var(--line); border-radius: 1rem; text-decoration: none; color: inherit; }
.findings li.error .badge { background: #b91c1c; }
.prose p { margin: 0 0 0.7rem; }
code { font-size: 0.9em; }
footer { max-width: 60rem; margin: 0 auto; padding: 0 1rem 2rem; color: var(--muted); font-size: 0.85rem; }
@media print {
  @page { margin: 14mm 12mm; }
  body { background: none; font-size: 9.5pt; }
  .masthead { background: none; color: #000; padding: 0 0 0.5rem; }
  .masthead p { color: #333; }
  nav { display: none; }
  main { max-width: none; padding: 0; }
  .card { box-shadow: none; border-radius: 0; padding: 0; margin: 0 0 1rem; }
  .week { break-before: page; }
  h2, h3 { break-after: avoid; }
  table, tr, .workout, svg.chart, .findings li { break-inside: avoid; }
  .workouts { display: block; }
  .workout { display: grid; grid-template-columns: 2fr 3fr; gap: 0 1rem; margin-bottom: 0.6rem; padding: 0.5rem; }
  .workout .body p:first-child { margin-top: 0; }
  a { color: inherit; text-decoration: none; }
  svg, .phase, .zone, .badge, .legend i { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// The narrow-screen part of the style: tighter cards and bigger chart labels (in the charts'
/// user units, so that they stay readable where the charts shrink).
fn phone_style() -> String {
    format!(
        "@media (max-width: {}rem) {{\n  body {{ font-size: 15px; }}\n  main {{ padding: 0.5rem; }}\n  \
         .card {{ padding: 0.75rem; border-radius: 0.5rem; }}\n  th, td {{ padding: 0.25rem 0.2rem; }}\n  \
         table {{ font-size: 0.86rem; }}\n  svg.wide text {{ font-size: {}px; }}\n  \
         svg.profile text {{ font-size: {}px; }}\n}}\n",
        num(PHONE_MAX_REM),
        num(PHONE_WIDE_LABEL),
        num(PHONE_PROFILE_LABEL)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::export::model::test_step as step;

    #[test]
    fn durations_read_as_a_rider_says_them() {
        assert_eq!(duration_text(45 * 60), "45 min");
        assert_eq!(duration_text(3900), "1 h 05 min");
        assert_eq!(duration_text(7200), "2 h");
        assert_eq!(duration_text(30), "30 s");
        assert_eq!(duration_text(380), "6 min 20 s");
    }

    /// A warm-up ramp from 50 to 80 % crosses from zone 1 into 2 and 3 where the domain's
    /// `zone_of` says, and each part is drawn in its zone's colour.
    #[test]
    fn a_ramp_is_cut_where_its_zone_changes_and_each_part_takes_the_zones_colour() {
        let parts = zone_parts(50.0, 80.0);
        let zones_seen: Vec<u8> = parts.iter().map(|part| part.2).collect();
        assert_eq!(zones_seen, vec![1, 2, 3]);
        for (from, to, zone) in &parts {
            let power = |at: f64| 50.0 + 30.0 * at;
            assert_eq!(zones::zone_of(power((from + to) / 2.0)), *zone);
        }
        assert_eq!(parts.first().unwrap().0, 0.0);
        assert_eq!(parts.last().unwrap().1, 1.0);
        assert_eq!(zone_parts(100.0, 100.0), vec![(0.0, 1.0, 4)]);

        let workout = DatedWorkout {
            date: NaiveDate::from_ymd_opt(2027, 1, 5).unwrap(),
            weekday: Weekday::Tuesday,
            name: "Threshold <2×10> & \"more\"".to_string(),
            description: String::new(),
            detailed_description: None,
            blocks: vec![
                Block::Step(step(SegmentKind::Warmup, 600, 50.0, 80.0, "up")),
                Block::Step(step(SegmentKind::Work, 600, 95.0, 100.0, "<b>hard</b>")),
                Block::Step(step(SegmentKind::Cooldown, 300, 40.0, 55.0, "down")),
            ],
        };
        let svg = profile_svg(250.0, &workout);
        let document = roxmltree::Document::parse(&svg).unwrap();
        let fills: Vec<&str> = document
            .descendants()
            .filter(|node| node.has_tag_name("polygon"))
            .filter_map(|node| node.attribute("fill"))
            .collect();
        // Warm-up: Z1, Z2, Z3; the work: Z4; the cool-down: Z1 only.
        let colour = |zone: usize| ZONE_COLORS[zone - 1];
        assert_eq!(
            fills,
            vec![colour(1), colour(2), colour(3), colour(4), colour(1)]
        );
        assert!(svg.contains("Power profile of Threshold &lt;2×10&gt; &amp; &quot;more&quot;"));
        assert!(!svg.contains("<b>"), "step words are escaped");
    }

    #[test]
    fn paragraphs_keep_breaks_and_escape_markup() {
        assert_eq!(
            paragraphs("One <b>\nline\r\n\r\nTwo & three\n\n\n"),
            "<p>One &lt;b&gt;<br>\nline</p>\n<p>Two &amp; three</p>\n"
        );
    }
}
