//! Restart: stop a container if it runs, then start it again (`docker restart`).

use std::time::Duration;

use super::{Container, Status};
use crate::Result;

impl Container {
    /// Stops it (as [`stop`](Self::stop), if it runs) and starts it again (`docker
    /// restart`).
    ///
    /// # Errors
    /// As [`stop`](Self::stop) and [`start`](Self::start).
    pub fn restart(&self, timeout: Duration) -> Result<()> {
        if matches!(self.status(), Status::Running | Status::Paused) {
            self.stop(timeout)?;
        }
        self.start()
    }
}
