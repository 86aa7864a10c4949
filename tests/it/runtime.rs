//! The OCI runtime layer against busybox bundles.

use crate::common::{self, Bundle};

#[test]
#[ignore = "requires root"]
fn echo_prints_and_exits_zero() {
    let rt = common::runtime();
    let b = Bundle::new(&["echo", "hello from cargohold"]);
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{:?} {}", ran.status, ran.stderr);
    assert_eq!(ran.stdout, "hello from cargohold\n");
}
