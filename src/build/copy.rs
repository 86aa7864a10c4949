//! COPY and ADD: the layer they write. (Placeholder interface until the copy branch lands.)

use oci_spec::image::Digest;

use super::context::Context;
use crate::container::changes::Stack;
use crate::image::layer::TarWriter;

pub(crate) struct CopyInput {
    pub(crate) add: bool,
    pub(crate) sources: Vec<CopySource>,
    pub(crate) dest: String,
    pub(crate) workdir: String,
    pub(crate) chown: Option<String>,
    pub(crate) chmod: Option<String>,
    pub(crate) exclude: Vec<String>,
    pub(crate) parents: bool,
    pub(crate) link: bool,
    pub(crate) checksum: Option<String>,
}
pub(crate) enum CopySource {
    Path(String),
    Heredoc { name: String, content: String },
}
pub(crate) enum CopyFrom<'a> {
    Context(&'a Context),
    Rootfs(&'a Stack),
}
pub(crate) struct Copied {
    pub(crate) files: u64,
    pub(crate) bytes: u64,
}
pub(crate) fn write_layer<W: std::io::Write>(
    input: &CopyInput,
    from: &CopyFrom<'_>,
    dest_root: &Stack,
    tar: &mut TarWriter<W>,
    progress: &mut dyn FnMut(u64),
) -> crate::Result<Copied> {
    unimplemented!()
}
pub(crate) fn source_digest(input: &CopyInput, from: &CopyFrom<'_>) -> crate::Result<Digest> {
    unimplemented!()
}
