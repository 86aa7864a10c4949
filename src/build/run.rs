//! RUN: a container of the engine on the step's image.
