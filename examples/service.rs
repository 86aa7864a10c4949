//! The README's second quickstart, as it is written there: a service for a test. A
//! detached, ephemeral busybox httpd published on 127.0.0.1:8080, awaited until it
//! answers, fetched from the host; killed and removed when this program ends.
//!
//! ```sh
//! ./scripts/busybox-image.sh /tmp/busybox.tar
//! cargo run --example quickstart -- /tmp/busybox.tar     # imports localhost/busybox
//! cargo run --example service                            # as root
//! ```
//!
//! A first argument names the engine root (default `/tmp/cargohold-quickstart`). Publishing
//! a port puts the container on the default bridge network with outbound NAT: to keep it
//! off the machine's own network, run it in a network namespace of its own
//! (`unshare -n sh -c 'ip link set lo up; exec target/debug/examples/service'`).
use cargohold::{Engine, WaitFor};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    cargohold::init(); // first thing in main: the detached container's monitor is this program
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/cargohold-quickstart".into());
    let engine = Engine::open(root)?;
    let image = engine.image("localhost/busybox:latest")?;
    let web = engine
        .container(&image)
        .args(["httpd", "-f", "-p", "80", "-h", "/www"])
        .publish(8080, 80) // on the default bridge network
        .detach(true) // logs kept by its monitor
        .ephemeral(true) // killed with this program, removed when the handle drops
        .spawn()?;
    web.wait_for(&WaitFor::http(80, "/"), Duration::from_secs(10))?;

    let mut conn = TcpStream::connect("127.0.0.1:8080")?;
    conn.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply)?;
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    print!("{body}");
    Ok(())
}
