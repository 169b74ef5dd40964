//! Training Stress Score of planned steps (SPEC §6): hours × IF² × 100, with IF the midpoint
//! of the step's low and high power in % of FTP. Repeats are expanded into steps first
//! (`plan::Segment::steps`).

/// TSS of one step of `minutes` (fractions allowed), unrounded.
pub fn step_tss(minutes: f64, power_low_pct: f64, power_high_pct: f64) -> f64 {
    let hours = minutes / 60.0;
    let intensity_factor = (power_low_pct + power_high_pct) / 2.0 / 100.0;
    hours * intensity_factor * intensity_factor * 100.0
}

/// Rounds to one decimal, the precision every TSS is reported with.
pub fn round_tenth(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(round_tenth(step_tss(60.0, 100.0, 100.0)), 100.0);
        assert_eq!(round_tenth(step_tss(60.0, 70.0, 70.0)), 49.0);
        assert!((step_tss(20.0, 95.0, 95.0) - 30.0833).abs() < 1e-3);
        // A ramp counts at its midpoint: 50 → 100 % over 60 min is 75 %.
        assert_eq!(round_tenth(step_tss(60.0, 50.0, 100.0)), 56.3);
    }
}
