//! Runs OCI bundles.
