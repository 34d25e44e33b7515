//! Loading a binary's typed configuration: defaults, then a TOML file, then environment
//! variables. Shared by `printyx` and `printyx-agent` so both behave the same way.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Loads `T` from its `Default`, then `file` (if given; it must exist), then variables named
/// `{env_prefix}{KEY}` (nested keys with `__`, e.g. `PRINTYX_SMTP__HOST`). Only variables for
/// keys `T` has are read, so other `{env_prefix}*` variables cannot break start-up; an unknown
/// key in the file is an error (a typo must not be ignored silently), given `T` denies unknown
/// fields.
pub fn load<T>(file: Option<&Path>, env_prefix: &str) -> Result<T, ConfigError>
where
    T: Default + Serialize + DeserializeOwned,
{
    let defaults = T::default();
    let known: Vec<String> = match serde_json::to_value(&defaults) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut figment = Figment::from(Serialized::defaults(defaults));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::Missing(path.display().to_string()));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    let env = Env::prefixed(env_prefix)
        .lowercase(true)
        .split("__")
        .filter(move |key| {
            let top = key.as_str().split('.').next().unwrap_or_default();
            known.iter().any(|k| k.eq_ignore_ascii_case(top))
        });
    figment
        .merge(env)
        .extract()
        .map_err(|e| ConfigError::Invalid(one_line(&e)))
}

fn one_line(e: &figment::Error) -> String {
    e.clone()
        .into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
