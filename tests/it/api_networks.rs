//! The Docker Engine API: networks, volumes, events, driven by real clients (see `common::api`).
