//! The reference parser never panics, and what it accepts prints back to a reference
//! that parses (strictly, as canonical) to the same thing.
#![no_main]

use cargohold::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Reference::parse_canonical(s);
    let Ok(r) = s.parse::<Reference>() else {
        return;
    };
    let printed = r.to_string();
    let again: Reference = printed.parse().expect("a printed reference parses");
    assert_eq!(again, r, "{s:?} -> {printed:?}");
    let canonical = Reference::parse_canonical(&printed).expect("a printed reference is canonical");
    assert_eq!(canonical, r);
    // Docker's quirk, kept: `docker.io/foo.com/bar` prints as `foo.com/bar`, whose first
    // part then reads as a registry host. Every other familiar form reads back the same.
    let familiar = r.familiar();
    let first = familiar.split('/').next().unwrap_or_default();
    if !(familiar.contains('/') && (first.contains(['.', ':']) || first == "localhost")) {
        let back: Reference = familiar.parse().expect("the familiar form parses");
        assert_eq!(back, r, "familiar form of {s:?}");
    }
    let _ = (r.domain(), r.path(), r.tag(), r.digest(), r.name());
});
