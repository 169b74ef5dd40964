//! Choosing a provider: what the user asked for, what a run recorded (on resume), and the
//! defaults, into one ready `Provider`. A real service needs its key; a custom base URL (a
//! local or compatible server) may run without one.

use std::collections::BTreeMap;

use crate::providers::limiter::{self, Limits};
use crate::providers::secret::Secret;
use crate::providers::{builtin, http, HttpProvider, Protocol, Provider};

/// The provider names a user can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Builtin,
    Http(Protocol),
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 5] = [
        ProviderKind::Builtin,
        ProviderKind::Http(Protocol::Anthropic),
        ProviderKind::Http(Protocol::OpenAi),
        ProviderKind::Http(Protocol::Gemini),
        ProviderKind::Http(Protocol::Ollama),
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Builtin => "builtin",
            ProviderKind::Http(protocol) => protocol.name(),
        }
    }

    pub fn named(name: &str) -> Option<ProviderKind> {
        ProviderKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

/// What the command line says about the provider; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Choice {
    pub kind: Option<ProviderKind>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub timeouts: http::Timeouts,
    /// Simulated latency of the built-in coach.
    pub latency_ms: u64,
    /// `--max-rpm` and `--max-tpm`; 0 means no limit, `None` the vendor's default.
    pub max_rpm: Option<u32>,
    pub max_tpm: Option<u64>,
    /// The prices the model is looked up in (`--prices`, then the built-in list).
    pub prices: crate::pricing::PriceTable,
    /// `--context-tokens`: the server's context window; `None` when unknown.
    pub context_tokens: Option<u64>,
}

/// What a run recorded about its provider (resume).
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub base_url: &'a str,
}

/// Where the keys and hosts of the environment come in.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// Keys by environment variable name (`ANTHROPIC_API_KEY`, …).
    pub keys: BTreeMap<&'static str, Secret>,
    /// `OLLAMA_HOST`, when set.
    pub ollama_host: Option<String>,
    /// `PERIODIZE_MOCK_BRIEF=1`: send each request's brief for `periodize mock-llm`.
    pub mock_brief: bool,
    /// The process's rate limiters, one per endpoint, shared by every provider resolved here.
    pub limiters: limiter::Registry,
}

/// A choice that cannot make a provider: the flag (or variable), its value, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {flag} {value:?}: {reason}")]
pub struct ResolveError {
    pub flag: &'static str,
    pub value: String,
    pub reason: String,
}

fn refuse(flag: &'static str, value: impl Into<String>, reason: impl Into<String>) -> ResolveError {
    ResolveError {
        flag,
        value: value.into(),
        reason: reason.into(),
    }
}

/// The provider a choice describes: the flags win, then what the run recorded, then the
/// defaults.
pub fn resolve(
    choice: &Choice,
    recorded: Option<Recorded<'_>>,
    credentials: &Credentials,
) -> Result<Provider, ResolveError> {
    let kind = match (choice.kind, &recorded) {
        (Some(kind), _) => kind,
        (None, Some(recorded)) => ProviderKind::named(recorded.provider).ok_or_else(|| {
            refuse(
                "--provider",
                recorded.provider,
                "the run was made with a provider this build does not know; pass --provider",
            )
        })?,
        (None, None) => ProviderKind::Builtin,
    };
    let same_as_recorded = recorded
        .as_ref()
        .is_some_and(|recorded| ProviderKind::named(recorded.provider) == Some(kind));
    let ProviderKind::Http(protocol) = kind else {
        if let Some(model) = choice
            .model
            .as_deref()
            .filter(|model| *model != builtin::MODEL)
        {
            return Err(refuse(
                "--model",
                model,
                format!("the builtin provider has one model, {}", builtin::MODEL),
            ));
        }
        return Ok(Provider::Builtin(builtin::BuiltinCoach {
            latency_ms: choice.latency_ms,
        }));
    };
    let model = match (&choice.model, &recorded) {
        (Some(model), _) => model.clone(),
        (None, Some(recorded)) if same_as_recorded => recorded.model.to_string(),
        _ => protocol.default_model().to_string(),
    };
    if model.trim().is_empty() {
        return Err(refuse("--model", model, "expected a model name"));
    }
    let (base_url, url_source) = match (&choice.base_url, &recorded) {
        (Some(url), _) => (url.clone(), "--base-url"),
        (None, Some(recorded)) if same_as_recorded && !recorded.base_url.is_empty() => {
            (recorded.base_url.to_string(), "--base-url")
        }
        _ if protocol == Protocol::Ollama => match &credentials.ollama_host {
            Some(host) => (host.clone(), "OLLAMA_HOST"),
            None => (protocol.default_base_url().to_string(), "--base-url"),
        },
        _ => (protocol.default_base_url().to_string(), "--base-url"),
    };
    if let Some(shown) = without_userinfo(&base_url) {
        // The run records its base URL, and reqwest would send these as Basic credentials:
        // refuse them, and never echo them (the user part may be a key too).
        let instead = match protocol.key_variable() {
            Some(variable) => format!("put the API key in {variable}"),
            None => format!(
                "remove them; periodize sends {} no credentials",
                protocol.name()
            ),
        };
        return Err(refuse(
            url_source,
            shown,
            format!("a base URL must not carry credentials (user:password@), they would be stored with the run; {instead}"),
        ));
    }
    let url_ok = base_url.starts_with("http://")
        || base_url.starts_with("https://")
        || protocol == Protocol::Ollama;
    if !url_ok {
        return Err(refuse(
            "--base-url",
            base_url,
            "expected an http:// or https:// URL",
        ));
    }
    let key = match protocol.key_variable() {
        Some(variable) => match credentials.keys.get(variable) {
            Some(key) => Some(key.clone()),
            None if base_url == protocol.default_base_url() => {
                return Err(refuse(
                    "environment",
                    variable,
                    format!(
                        "the {} provider needs its API key in {variable}",
                        protocol.name()
                    ),
                ))
            }
            None => None,
        },
        None => None,
    };
    let client = http::client(choice.timeouts).map_err(|reason| {
        refuse(
            "--request-timeout-ms",
            choice.timeouts.request_ms.to_string(),
            reason,
        )
    })?;
    // The vendor's own API gets its lowest paid tier's limits unless told otherwise; another
    // base URL (a local server, a proxy) has no limit it could be assumed to have.
    let defaults = if base_url == protocol.default_base_url() {
        protocol.default_limits()
    } else {
        Limits::default()
    };
    let limits = Limits {
        max_rpm: choice
            .max_rpm
            .map_or(defaults.max_rpm, |rpm| Some(rpm).filter(|rpm| *rpm > 0)),
        max_tpm: choice
            .max_tpm
            .map_or(defaults.max_tpm, |tpm| Some(tpm).filter(|tpm| *tpm > 0)),
    };
    let endpoint = format!("{} {base_url} {model}", protocol.name());
    let limiter = credentials.limiters.limiter(&endpoint, limits);
    let price = choice.prices.lookup(protocol.name(), &model);
    Ok(Provider::Http(HttpProvider {
        protocol,
        client,
        base_url,
        model,
        key,
        mock_brief: credentials.mock_brief,
        limiter,
        price,
        context_tokens: choice.context_tokens,
    }))
}

/// Marks where the user part of a URL with credentials was: what an error may show of it.
const CREDENTIALS_SHOWN_AS: &str = "***";

/// `url` with its userinfo (`user:password@`) replaced by `***`, when it has one. The scheme
/// is optional, as in a raw `OLLAMA_HOST`.
fn without_userinfo(url: &str) -> Option<String> {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + "://".len()),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some(format!("{scheme}{CREDENTIALS_SHOWN_AS}{}", &rest[at..]))
}

/// Where a provider is reached, as a run records it ("" for the built-in coach).
pub fn base_url_of(provider: &Provider) -> String {
    match provider {
        Provider::Builtin(_) | Provider::Scripted(_) => String::new(),
        Provider::Http(http) => http.base_url.clone(),
    }
}
