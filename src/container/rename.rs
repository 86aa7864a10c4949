//! Rename: give a container another name (`docker rename`).

use super::record::Record;
use super::store::ContainerStore;
use super::Container;
use crate::{Error, Result};

impl ContainerStore {
    pub(crate) fn rename_container(&self, id: &str, name: &str) -> Result<Record> {
        super::validate_name(name)?;
        let name = name.trim_start_matches('/');
        let _lock = self.images().store().lock("containers")?;
        let dir = self.dir(id);
        let mut rec =
            Record::load(&dir).map_err(|_| Error::ContainerNotFound { id: id.to_owned() })?;
        if rec.name() == name {
            return Ok(rec);
        }
        if let Some(holder) = self.claim_name(name, id)? {
            return Err(Error::ContainerNameInUse {
                name: name.to_owned(),
                id: holder,
            });
        }
        let old = rec.name().to_owned();
        rec.info.name = format!("/{name}");
        if let Err(e) = rec.save(&dir) {
            self.release_name(name, id);
            return Err(e);
        }
        self.release_name(&old, id);
        super::events::container(
            self.root(),
            &rec,
            "rename",
            &[("oldName", format!("/{old}"))],
        );
        Ok(rec)
    }
}

impl Container {
    /// Renames it (`docker rename`).
    ///
    /// # Errors
    /// [`Error::InvalidContainerName`], [`Error::ContainerNameInUse`].
    pub fn rename(&mut self, name: &str) -> Result<()> {
        self.record = self.store.rename_container(self.id(), name)?;
        Ok(())
    }
}
