//! The runtime CLI verbs the runc shim calls.
