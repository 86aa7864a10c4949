//! Integration tests. Root-only tests are `#[ignore = "requires root"]`; the README's test
//! command runs them all with `--include-ignored`.

mod common;

// The Docker Engine API (issue 16), with the feature that builds it.
#[cfg(feature = "api")]
mod api;
#[cfg(feature = "api")]
mod api_clients;
#[cfg(feature = "api")]
mod api_containers;
#[cfg(feature = "api")]
mod api_images;
#[cfg(feature = "api")]
mod api_io;
#[cfg(feature = "api")]
mod api_networks;

// The OCI runtime layer: create/start/state/kill/delete/run/exec of busybox bundles.
mod runtime;

// Volumes: named volumes, bind and tmpfs mounts in busybox containers.
mod volume;
// Containers: the engine's attached containers from images (issue 4).
mod container;

// Images: interop with skopeo/umoci archives and layouts.
mod image_interop;
// Images: overlay mounts of unpacked layers.
mod image_overlay;
// Images: load and import refuse what the unpacker refuses (non-tars, hostile entries),
// leaving the store as it was; hostile layers loaded and run leave the host alone (issue 10).
mod image_validation;
// Images: push and pull against a real docker-registry on 127.0.0.1.
mod image_registry;
// examples/runtime.rs, the runc-compatible CLI, and containerd/podman driving it.
mod cli;
// examples/engine.rs, the docker-like CLI, on a busybox image imported from a tarball.
mod engine_cli;
// Containers: diff, commit (the committed image runs with the change; skopeo and umoci
// read it) and export (issue 4).
mod commit;
// `docker history`: Image::layer_history and `engine history` (issue 12).
mod history;
// `engine build` and `engine builder prune` as Docker users type them (issue 12).
mod build_cli;
// `--format` Go templates, the container/image/system groups, system df/prune, info and
// version of the engine CLI (issue 13).
mod cli_format;
// Readiness waits (tcp, http, exec, healthcheck) on attached containers (issue 4).
mod ready;
// Background healthchecks of detached containers: `run --health-*`, an image's
// HEALTHCHECK, `ps`/`inspect` and `Container::health`.
mod health;
// Stats (memory, cpu, pids, network) and top of running containers (issue 4).
mod stats;
// Containers on networks through the builder (issue 5), each in a test namespace. (The
// network layer's own tests — bridge, macvlan, none and host sandboxes, IPAM, repair —
// are unit tests in src/network/sandbox_tests.rs.)
mod container_net;
// Two engine roots in one network namespace: default bridges on disjoint subnets (issue 13).
mod bridges;
// `start -a -i`: a detached container's stdin through its monitor's fifo (issue 13).
mod attach;
// A Docker beginner's course run through with the engine CLI (issue 13).
mod build;
mod build_buildah;
mod build_interop;
mod course;
// Seccomp: Docker's default profile and the profile loader on the real kernel (issue 10).
mod seccomp;
// Escape regressions (issue 10): the private store (setuid binaries of images, upper dirs
// and volumes unreachable from the host) and the sealed binary that enters containers.
mod security;
// Security options of engine containers: Docker's default seccomp profile by default,
// seccomp=unconfined|PROFILE.json, no-new-privileges, refused apparmor=/label= (issue 10).
mod security_opts;
// runc and ours on generated configs: exit codes and what a probe inside sees (issue 11).
mod differential;
// Limits (issue 10): CPU shares, swap and memory soft limits on the builder and the engine
// CLI, in the cgroup and in inspect.
mod limits;
// Escape regressions (issue 10): leaked-fd working directories, symlinked and swapped mount
// destinations, /proc/sys and /sys writes, host disks, dangerous syscalls, compat entry points.
mod escape;
// `engine login`/`logout`/`search`, `run --pull`, credential helpers, `Engine::image_or_pull`
// against a docker-registry with basic auth (issue 13).
mod cli_registry;
// Issue 13: create/start, cp, ulimit, init, events, update through the library.
mod cp_events;
mod events_update;
// Issue 13: run/create/start flags and cp through the engine CLI.
mod cli_flags;
// `engine compose` (issue 14): up/ps/down of a project, recreation of what changed,
// profiles and `.env`, failures that leave nothing.
mod compose;
mod compose_docker;
mod rootless;
mod sandbox;
