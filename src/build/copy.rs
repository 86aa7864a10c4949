//! COPY and ADD: the layer they write.
