//! What model tokens cost: the dated list prices of the default models, a `--prices FILE` that
//! adds or overrides entries, and the cost of one request's `Usage` in micro-dollars.
//!
//! Costs are estimates from list prices, never an invoice: vendors change prices, discount
//! batches and bill some requests we never see a reply for. Money is kept as integer
//! micro-dollars so sums are exact and saturate instead of drifting.

use serde::Deserialize;

use crate::llm::Usage;

/// The day the built-in prices were last checked against the vendors' published list prices.
pub const PRICES_AS_OF: &str = "2025-10-01";

/// A price above this, per million tokens, is a typo (the dearest models cost a few hundred).
pub const MAX_USD_PER_MTOK: f64 = 10_000.0;

/// The largest price file read: a table of every model of every vendor is a few KiB.
pub const MAX_PRICES_FILE_BYTES: u64 = 1024 * 1024;

const MICRO_USD_PER_USD: f64 = 1_000_000.0;
const TOKENS_PER_MTOK: u128 = 1_000_000;

/// Micro-dollars per million tokens of each kind a vendor bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Price {
    /// Prompt tokens neither read from nor written to a cache.
    pub input_micro_usd_per_mtok: u64,
    pub cache_read_micro_usd_per_mtok: u64,
    pub cache_write_micro_usd_per_mtok: u64,
    pub output_micro_usd_per_mtok: u64,
}

impl Price {
    /// A local model or the built-in coach.
    pub const FREE: Price = Price {
        input_micro_usd_per_mtok: 0,
        cache_read_micro_usd_per_mtok: 0,
        cache_write_micro_usd_per_mtok: 0,
        output_micro_usd_per_mtok: 0,
    };

    /// The cost of one request, rounded to the nearest micro-dollar. `usage.input_tokens`
    /// counts every prompt token, so the uncached part is what the cache fields leave.
    pub fn cost_micro_usd(&self, usage: &Usage) -> u64 {
        let uncached = usage
            .input_tokens
            .saturating_sub(usage.cache_read_tokens)
            .saturating_sub(usage.cache_write_tokens);
        let product = |tokens: u64, per_mtok: u64| u128::from(tokens) * u128::from(per_mtok);
        let total = product(uncached, self.input_micro_usd_per_mtok)
            + product(usage.cache_read_tokens, self.cache_read_micro_usd_per_mtok)
            + product(
                usage.cache_write_tokens,
                self.cache_write_micro_usd_per_mtok,
            )
            + product(usage.output_tokens, self.output_micro_usd_per_mtok);
        let rounded = (total + TOKENS_PER_MTOK / 2) / TOKENS_PER_MTOK;
        u64::try_from(rounded).unwrap_or(u64::MAX)
    }
}

/// The estimated cost of several requests: what the priced ones cost, and how many had no
/// price (their cost is unknown, so the sum is a floor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    pub micro_usd: u64,
    pub unpriced_requests: u32,
}

impl Cost {
    pub fn add_request(&mut self, cost_micro_usd: Option<u64>) {
        match cost_micro_usd {
            Some(cost) => self.micro_usd = self.micro_usd.saturating_add(cost),
            None => self.unpriced_requests = self.unpriced_requests.saturating_add(1),
        }
    }

    pub fn add(&mut self, other: &Cost) {
        self.micro_usd = self.micro_usd.saturating_add(other.micro_usd);
        self.unpriced_requests = self
            .unpriced_requests
            .saturating_add(other.unpriced_requests);
    }

    pub fn usd(&self) -> f64 {
        usd(self.micro_usd)
    }
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_usd(self.micro_usd))?;
        match self.unpriced_requests {
            0 => Ok(()),
            1 => f.write_str(" + 1 unpriced request"),
            n => write!(f, " + {n} unpriced requests"),
        }
    }
}

pub fn usd(micro_usd: u64) -> f64 {
    micro_usd as f64 / MICRO_USD_PER_USD
}

/// Dollars with enough digits to tell cheap requests apart: `$0.0123`, `$12.34`.
pub fn format_usd(micro_usd: u64) -> String {
    let usd = usd(micro_usd);
    if usd >= 100.0 {
        format!("${usd:.2}")
    } else {
        format!("${usd:.4}")
    }
}

/// Dollars from the command line (`--max-cost 2.50`) into micro-dollars.
pub fn micro_usd_from_usd(usd: f64) -> Option<u64> {
    (usd.is_finite() && usd > 0.0 && usd <= u64::MAX as f64 / MICRO_USD_PER_USD)
        .then(|| (usd * MICRO_USD_PER_USD).round() as u64)
}

/// One row: a provider, a model (exact, or a prefix ending in `*`), and its price.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    provider: String,
    model: String,
    price: Price,
}

impl Entry {
    /// How well the entry names `model`: `None` if it does not, longer patterns rank higher
    /// and an exact name above any prefix.
    fn rank(&self, provider: &str, model: &str) -> Option<(bool, usize)> {
        if self.provider != provider {
            return None;
        }
        match self.model.strip_suffix('*') {
            Some(prefix) => model.starts_with(prefix).then_some((false, prefix.len())),
            None => (self.model == model).then_some((true, self.model.len())),
        }
    }
}

/// The prices a process knows: a file's entries first, then the built-in list prices.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    file: Vec<Entry>,
    defaults: Vec<Entry>,
    /// Where the file's prices come from and when, for the help and the reports.
    pub file_as_of: Option<String>,
}

impl Default for PriceTable {
    fn default() -> PriceTable {
        PriceTable::builtin()
    }
}

/// USD per million tokens: input, cache read, cache write, output.
type Row = (&'static str, &'static str, [f64; 4]);

/// List prices of the default models and their close relatives, in USD per million tokens
/// (input, cache read, cache write, output), as of `PRICES_AS_OF`. Anthropic's cache write is
/// the 5-minute write; OpenAI and Gemini cache automatically and bill no write. Gemini's
/// figures are the text prices of prompts up to 200K tokens. Ollama runs models locally.
const BUILTIN: &[Row] = &[
    ("anthropic", "claude-opus-4-1*", [15.0, 1.5, 18.75, 75.0]),
    ("anthropic", "claude-opus-4*", [15.0, 1.5, 18.75, 75.0]),
    ("anthropic", "claude-sonnet-4*", [3.0, 0.3, 3.75, 15.0]),
    ("anthropic", "claude-3-7-sonnet*", [3.0, 0.3, 3.75, 15.0]),
    ("anthropic", "claude-haiku-4-5*", [1.0, 0.1, 1.25, 5.0]),
    ("anthropic", "claude-3-5-haiku*", [0.8, 0.08, 1.0, 4.0]),
    ("openai", "gpt-4.1*", [2.0, 0.5, 2.0, 8.0]),
    ("openai", "gpt-4.1-mini*", [0.4, 0.1, 0.4, 1.6]),
    ("openai", "gpt-4.1-nano*", [0.1, 0.025, 0.1, 0.4]),
    ("openai", "gpt-4o*", [2.5, 1.25, 2.5, 10.0]),
    ("openai", "gpt-4o-mini*", [0.15, 0.075, 0.15, 0.6]),
    ("openai", "gpt-5*", [1.25, 0.125, 1.25, 10.0]),
    ("openai", "gpt-5-mini*", [0.25, 0.025, 0.25, 2.0]),
    ("openai", "gpt-5-nano*", [0.05, 0.005, 0.05, 0.4]),
    ("gemini", "gemini-2.5-flash*", [0.3, 0.075, 0.3, 2.5]),
    ("gemini", "gemini-2.5-flash-lite*", [0.1, 0.025, 0.1, 0.4]),
    ("gemini", "gemini-2.5-pro*", [1.25, 0.31, 1.25, 10.0]),
    ("ollama", "*", [0.0, 0.0, 0.0, 0.0]),
];

fn micro(usd_per_mtok: f64) -> u64 {
    (usd_per_mtok * MICRO_USD_PER_USD).round() as u64
}

impl PriceTable {
    /// The built-in list prices only.
    pub fn builtin() -> PriceTable {
        let defaults = BUILTIN
            .iter()
            .map(|(provider, model, [input, read, write, output])| Entry {
                provider: provider.to_string(),
                model: model.to_string(),
                price: Price {
                    input_micro_usd_per_mtok: micro(*input),
                    cache_read_micro_usd_per_mtok: micro(*read),
                    cache_write_micro_usd_per_mtok: micro(*write),
                    output_micro_usd_per_mtok: micro(*output),
                },
            })
            .collect();
        PriceTable {
            file: Vec::new(),
            defaults,
            file_as_of: None,
        }
    }

    /// The price of a provider's model: the best-matching entry of the file, else of the
    /// built-in table; `None` when neither names it.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<Price> {
        [&self.file, &self.defaults]
            .into_iter()
            .find_map(|entries| {
                entries
                    .iter()
                    .filter_map(|entry| entry.rank(provider, model).map(|rank| (rank, entry)))
                    .max_by_key(|(rank, _)| *rank)
                    .map(|(_, entry)| entry.price)
            })
    }

    /// The built-in prices with the entries of a price file's text in front of them; `path`
    /// names the file in errors.
    pub fn with_file(path: &str, text: &str) -> Result<PriceTable, PricesError> {
        let refuse = |field: String, value: String, reason: &str| PricesError {
            path: path.to_string(),
            field,
            value,
            reason: reason.to_string(),
        };
        let file: PriceFile = serde_json::from_str(text)
            .map_err(|error| refuse(String::new(), String::new(), &error.to_string()))?;
        let mut entries = Vec::with_capacity(file.prices.len());
        for (index, row) in file.prices.iter().enumerate() {
            let field = |name: &str| format!("prices[{index}].{name}");
            let known = ["anthropic", "openai", "gemini", "ollama"];
            if !known.contains(&row.provider.as_str()) {
                return Err(refuse(
                    field("provider"),
                    row.provider.clone(),
                    "expected anthropic, openai, gemini or ollama",
                ));
            }
            let name = row.model.strip_suffix('*').unwrap_or(&row.model);
            if row.model.trim().is_empty() || name.contains('*') {
                return Err(refuse(
                    field("model"),
                    row.model.clone(),
                    "expected a model name, or a prefix ending in one `*`",
                ));
            }
            let check = |name: &str, usd: f64| {
                if usd.is_finite() && (0.0..=MAX_USD_PER_MTOK).contains(&usd) {
                    Ok(micro(usd))
                } else {
                    Err(refuse(
                        field(name),
                        usd.to_string(),
                        &format!("expected US dollars per million tokens, 0 to {MAX_USD_PER_MTOK}"),
                    ))
                }
            };
            let input = check("input_usd_per_mtok", row.input_usd_per_mtok)?;
            let price = Price {
                input_micro_usd_per_mtok: input,
                // A vendor without a cache discount bills cached tokens as input.
                cache_read_micro_usd_per_mtok: match row.cache_read_usd_per_mtok {
                    Some(usd) => check("cache_read_usd_per_mtok", usd)?,
                    None => input,
                },
                cache_write_micro_usd_per_mtok: match row.cache_write_usd_per_mtok {
                    Some(usd) => check("cache_write_usd_per_mtok", usd)?,
                    None => input,
                },
                output_micro_usd_per_mtok: check("output_usd_per_mtok", row.output_usd_per_mtok)?,
            };
            entries.push(Entry {
                provider: row.provider.clone(),
                model: row.model.clone(),
                price,
            });
        }
        let mut table = PriceTable::builtin();
        table.file = entries;
        table.file_as_of = Some(file.as_of);
        Ok(table)
    }
}

/// `--prices FILE`: `{"as_of": "2026-12-01", "prices": [{"provider": "openai", "model":
/// "gpt-4.1*", "input_usd_per_mtok": 2, "cache_read_usd_per_mtok": 0.5,
/// "output_usd_per_mtok": 8}]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    as_of: String,
    prices: Vec<PriceRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceRow {
    provider: String,
    model: String,
    input_usd_per_mtok: f64,
    #[serde(default)]
    cache_read_usd_per_mtok: Option<f64>,
    #[serde(default)]
    cache_write_usd_per_mtok: Option<f64>,
    output_usd_per_mtok: f64,
}

/// A price file that cannot be used: the file, the field, its value and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --prices {path}: {}", self.detail())]
pub struct PricesError {
    pub path: String,
    pub field: String,
    pub value: String,
    pub reason: String,
}

impl PricesError {
    /// The field, its value and why, without the file.
    pub fn detail(&self) -> String {
        format!("{}{}", describe(&self.field, &self.value), self.reason)
    }
}

fn describe(field: &str, value: &str) -> String {
    match (field.is_empty(), value.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!("{value}: "),
        (false, _) => format!("{field} = {value}: "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, read: u64, write: u64, output: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: read,
            cache_write_tokens: write,
        }
    }

    #[test]
    fn a_request_costs_each_kind_of_token_at_its_price() {
        let table = PriceTable::builtin();
        let sonnet = table.lookup("anthropic", "claude-sonnet-4-5").unwrap();
        // 1,000 uncached at $3, 8,000 read at $0.30, 1,000 written at $3.75, 500 out at $15.
        let cost = sonnet.cost_micro_usd(&usage(10_000, 8_000, 1_000, 500));
        assert_eq!(cost, 3_000 + 2_400 + 3_750 + 7_500);
        assert_eq!(format_usd(cost), "$0.0167");
        assert_eq!(
            Price::FREE.cost_micro_usd(&usage(u64::MAX, 0, 0, u64::MAX)),
            0
        );
        let dear = Price {
            output_micro_usd_per_mtok: micro(MAX_USD_PER_MTOK),
            ..Price::FREE
        };
        assert_eq!(dear.cost_micro_usd(&usage(0, 0, 0, u64::MAX)), u64::MAX);
    }

    #[test]
    fn the_most_specific_entry_names_the_price() {
        let table = PriceTable::builtin();
        let mini = table.lookup("openai", "gpt-4.1-mini-2025-04-14").unwrap();
        assert_eq!(mini.input_micro_usd_per_mtok, 400_000);
        let full = table.lookup("openai", "gpt-4.1").unwrap();
        assert_eq!(full.input_micro_usd_per_mtok, 2_000_000);
        assert_eq!(table.lookup("ollama", "llama3.1:8b"), Some(Price::FREE));
        assert_eq!(table.lookup("openai", "qwen2.5-7b-instruct"), None);
        assert_eq!(table.lookup("gemini", "claude-sonnet-4-5"), None);
    }

    #[test]
    fn a_price_file_overrides_and_refuses_by_field() {
        let table = PriceTable::with_file(
            "prices.json",
            r#"{"as_of": "2026-12-01", "prices": [
                {"provider": "openai", "model": "gpt-4.1", "input_usd_per_mtok": 1, "output_usd_per_mtok": 4},
                {"provider": "openai", "model": "qwen*", "input_usd_per_mtok": 0, "output_usd_per_mtok": 0}]}"#,
        )
        .unwrap();
        let gpt = table.lookup("openai", "gpt-4.1").unwrap();
        assert_eq!(gpt.input_micro_usd_per_mtok, 1_000_000);
        assert_eq!(gpt.cache_read_micro_usd_per_mtok, 1_000_000);
        assert_eq!(table.lookup("openai", "qwen2.5-7b"), Some(Price::FREE));
        assert_eq!(table.file_as_of.as_deref(), Some("2026-12-01"));

        let error = PriceTable::with_file(
            "prices.json",
            r#"{"as_of": "x", "prices": [{"provider": "openai", "model": "m", "input_usd_per_mtok": -1, "output_usd_per_mtok": 4}]}"#,
        )
        .unwrap_err();
        assert_eq!(error.field, "prices[0].input_usd_per_mtok");
        assert_eq!(error.value, "-1");
        assert!(error
            .to_string()
            .contains("prices[0].input_usd_per_mtok = -1"));
    }
}
