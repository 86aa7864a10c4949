//! `system df`, `system prune`, `info`, `version`.
