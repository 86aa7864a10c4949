//! The `/containers` routes: the lifecycle (create, start, stop, restart, kill, pause,
//! unpause, wait, inspect, list, rename, update, prune, delete); the routes that move a
//! container's bytes (logs, attach, top, stats, changes, export, archive) are
//! [`super::container_io`]'s, `POST /containers/{id}/exec` is [`super::exec`]'s.

use super::http::{self, Call, Reply};

/// Routes a call under `/containers`.
pub(super) async fn route(call: Call) -> Reply {
    match call.path().as_slice() {
        [
            "containers",
            _,
            "logs" | "attach" | "resize" | "top" | "stats" | "changes" | "export" | "archive",
        ] => super::container_io::route(call).await,
        ["containers", _, "exec"] => super::exec::route(call).await,
        _ => http::not_found(),
    }
}
