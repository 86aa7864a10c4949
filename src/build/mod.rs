//! Building images from Dockerfiles (`docker build` with BuildKit's Dockerfile frontend):
//! the parts the builder is made of, each usable and tested on its own.

mod config;
mod context;
pub(crate) mod dockerfile;
mod ignore;
