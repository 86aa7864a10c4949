//! The Docker Engine API: the image routes (pull, load, save, build, push…), driven by real clients (see `common::api`).
