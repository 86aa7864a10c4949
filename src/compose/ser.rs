//! Serialisation helpers: durations in Go's form, as `docker compose config` prints them.

use std::collections::BTreeMap;
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

/// A model field that is left out when written while unset (`None`, empty, `false`).
pub(super) trait Unset {
    /// Whether the field is unset.
    fn is_unset(&self) -> bool;
}

impl<T> Unset for Option<T> {
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

impl<T> Unset for Vec<T> {
    fn is_unset(&self) -> bool {
        self.is_empty()
    }
}

impl<K, V> Unset for BTreeMap<K, V> {
    fn is_unset(&self) -> bool {
        self.is_empty()
    }
}

impl Unset for bool {
    fn is_unset(&self) -> bool {
        !*self
    }
}
