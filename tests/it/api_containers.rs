//! The Docker Engine API: the container lifecycle routes, driven by real clients (see `common::api`).
