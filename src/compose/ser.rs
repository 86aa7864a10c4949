//! Serialisation helpers: durations in Go's form, as `docker compose config` prints them.

use std::time::Duration;

use serde::Serializer;

/// An optional duration as Go's `time.Duration.String` writes it (`1m30s`).
pub(super) fn opt_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&super::de::format_duration(*d)),
        None => s.serialize_none(),
    }
}

/// A permission mode as an octal string (`"0440"`), which reads back as the same mode.
pub(super) fn opt_mode<S: Serializer>(m: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_str(&format!("0{m:o}")),
        None => s.serialize_none(),
    }
}
