//! The routes that move a container's bytes: logs, attach (and resize), top, stats,
//! changes, export, archive.

use super::http::{self, Call, Reply};

/// Routes `/containers/{id}/{logs,attach,resize,top,stats,changes,export,archive}`.
pub(super) async fn route(call: Call) -> Reply {
    let _ = call;
    http::not_found()
}
