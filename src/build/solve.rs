//! The build: stages in order of need.

use super::ImageBuilder;
use crate::image::Image;
use crate::Result;

pub(crate) fn build(b: &ImageBuilder<'_>) -> Result<Image> {
    let _ = b;
    unimplemented!()
}
