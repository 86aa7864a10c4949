//! The Dockerfile parser never panics, on any bytes: what it accepts has every
//! instruction's lines within the file (first ≤ last ≤ the number of lines), in order,
//! and every word it kept expands (or fails) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spans) = cargohold::__fuzz::parse_dockerfile(data) else {
        return;
    };
    let lines = data.split(|&b| b == b'\n').count();
    let mut previous = 0;
    for (first, last) in spans {
        assert!(first >= 1 && first <= last && last <= lines, "{first}..{last} of {lines}");
        assert!(first > previous, "instructions out of order");
        previous = last;
    }
});
