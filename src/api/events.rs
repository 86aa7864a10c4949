//! `/events` (Docker's event stream) and `/system/df`.

use super::http::{self, Call, Reply};

/// Routes `/events` and `/system/df`.
pub(super) async fn route(call: Call) -> Reply {
    let _ = call;
    http::not_found()
}
