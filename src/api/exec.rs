//! The `/exec` routes.

use super::http::{self, Call, Reply};

/// Routes a call under `/exec`.
pub(super) async fn route(call: Call) -> Reply {
    let _ = call;
    http::not_found()
}
