//! Seccomp: the OCI spec's `linux.seccomp` compiled to classic BPF, in pure Rust.
