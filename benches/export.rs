//! Benchmarks of the exports: a 52-week plan file read into the export model and written in
//! every format (`--format all`), and the read alone, from the plan bytes 3c writes.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

use periodize::export::{self, model, DateRange, Format};
use periodize::workflow::RunSpec;

/// The bytes of a finished 52-week plan file of the built-in coach.
fn plan_text(total_weeks: u32) -> String {
    let spec = RunSpec {
        provider: "builtin".into(),
        model: "periodize-coach-1".into(),
        ..common::spec(total_weeks, 1, "unused")
    };
    let machine = common::finished_machine(spec);
    let bytes = periodize::planfile::render(machine.run()).expect("the plan renders");
    String::from_utf8(bytes).expect("a plan file is UTF-8")
}

fn export_all_formats(c: &mut Criterion) {
    let text = plan_text(52);
    let plan = model::from_plan_text(&text).expect("the plan reads");
    let files = export::files(&plan, Format::All, DateRange::default());
    let bytes: usize = files.iter().map(|file| file.bytes.len()).sum();
    eprintln!(
        "export/52_weeks: {} workouts, {} files, {bytes} bytes in all formats",
        plan.weeks
            .iter()
            .map(|week| week.workouts.len())
            .sum::<usize>(),
        files.len()
    );
    c.bench_function("export/52_weeks_read_plan", |b| {
        b.iter(|| model::from_plan_text(&text).expect("the plan reads"))
    });
    c.bench_function("export/52_weeks_all_formats", |b| {
        b.iter(|| {
            let plan = model::from_plan_text(&text).expect("the plan reads");
            export::files(&plan, Format::All, DateRange::default())
        })
    });
}

criterion_group!(benches, export_all_formats);
criterion_main!(benches);
