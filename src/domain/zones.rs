//! Coggan power zones derived from FTP, used by prompts, the built-in coach and `show`.

use serde::Serialize;

/// One power zone in % of FTP and in watts. `high_pct` is `None` for the open top zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerZone {
    pub zone: u8,
    pub name: &'static str,
    pub low_pct: f64,
    pub high_pct: Option<f64>,
    pub low_w: u32,
    pub high_w: Option<u32>,
}

const LEVELS: [(u8, &str, f64, Option<f64>); 7] = [
    (1, "Active recovery", 0.0, Some(55.0)),
    (2, "Endurance", 56.0, Some(75.0)),
    (3, "Tempo", 76.0, Some(90.0)),
    (4, "Lactate threshold", 91.0, Some(105.0)),
    (5, "VO2max", 106.0, Some(120.0)),
    (6, "Anaerobic capacity", 121.0, Some(150.0)),
    (7, "Neuromuscular", 151.0, None),
];

/// The seven Coggan levels for an FTP in watts.
pub fn power_zones(ftp_w: f64) -> Vec<PowerZone> {
    LEVELS
        .iter()
        .map(|&(zone, name, low_pct, high_pct)| PowerZone {
            zone,
            name,
            low_pct,
            high_pct,
            low_w: watts(ftp_w, low_pct),
            high_w: high_pct.map(|pct| watts(ftp_w, pct)),
        })
        .collect()
}

/// Zone number (1..=7) of a power in % of FTP.
pub fn zone_of(power_pct: f64) -> u8 {
    LEVELS
        .iter()
        .find(|(_, _, _, high)| high.is_some_and(|high| power_pct <= high + 0.5))
        .map_or(7, |(zone, ..)| *zone)
}

fn watts(ftp_w: f64, pct: f64) -> u32 {
    // FTP is validated to 50..=600 W, so the product fits easily.
    (ftp_w * pct / 100.0).round() as u32
}

/// A one-line-per-zone table for prompts and `show`.
pub fn zones_table(ftp_w: f64) -> String {
    power_zones(ftp_w)
        .iter()
        .map(|zone| match (zone.high_pct, zone.high_w) {
            (Some(high_pct), Some(high_w)) => format!(
                "Z{} {}: {:.0}-{:.0}% FTP ({}-{} W)",
                zone.zone, zone.name, zone.low_pct, high_pct, zone.low_w, high_w
            ),
            _ => format!(
                "Z{} {}: >{:.0}% FTP (>{} W)",
                zone.zone,
                zone.name,
                zone.low_pct - 1.0,
                zone.low_w
            ),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_for_250_w() {
        let zones = power_zones(250.0);
        assert_eq!(zones.len(), 7);
        assert_eq!(zones[1].low_w, 140);
        assert_eq!(zones[1].high_w, Some(188));
        assert_eq!(zones[3].high_w, Some(263));
        assert_eq!(zone_of(100.0), 4);
        assert_eq!(zone_of(65.0), 2);
        assert_eq!(zone_of(160.0), 7);
    }
}
