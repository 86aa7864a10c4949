//! The Docker Engine API: logs, attach, exec, top, stats, changes, export, archive, driven by real clients (see `common::api`).
