//! `/events`: Docker's event stream.

use std::time::{Duration, SystemTime};

use hyper::Method;

use super::http::{self, ApiError, Call, Reply};
use crate::EventOptions;

/// Routes `/events`.
pub(super) async fn route(call: Call) -> Reply {
    match (call.method(), call.path().as_slice()) {
        (&Method::GET, ["events"]) => match options(&call) {
            Ok(opts) => events(call, opts),
            Err(e) => e.reply(),
        },
        _ => http::not_found(),
    }
}

/// The query of `/events`: `since` and `until` (unix seconds, with a fraction, or an RFC
/// 3339 time), `filters`; the stream follows until `until` (for ever without it).
fn options(call: &Call) -> Result<EventOptions, ApiError> {
    let time = |key: &str| -> Result<Option<SystemTime>, ApiError> {
        let Some(v) = call.query.get(key).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if let Ok(secs) = v.parse::<f64>() {
            if secs >= 0.0 {
                return Ok(Some(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs)));
            }
        }
        humantime::parse_rfc3339_weak(v)
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}")))
    };
    let mut filters = Vec::new();
    for (k, vs) in call.query.filters()? {
        for v in vs {
            filters.push((k.clone(), v));
        }
    }
    Ok(EventOptions {
        since: time("since")?,
        until: time("until")?,
        filters,
        follow: true,
    })
}

/// Streams the events as JSON lines until `until` passes or the client goes.
fn events(call: Call, opts: EventOptions) -> Reply {
    let engine = call.engine.clone();
    let (reply, stream) = http::streamed("application/json");
    tokio::task::spawn_blocking(move || {
        let watch = stream.clone();
        let events = match engine.events(&opts) {
            Ok(ev) => ev.stop_when(move || watch.closed()),
            Err(e) => {
                let _ = stream.send_json(&serde_json::json!({ "message": e.to_string() }));
                return;
            }
        };
        for ev in events {
            match ev {
                Ok(ev) => {
                    if !stream.send_json(&ev) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    reply
}
