//! [`DetachKeys`]: Docker's key sequence that detaches a client from a container's
//! terminal (`docker attach`, `docker run -it`, `docker exec -it`) and leaves it running.

use std::io::{self, Read, Write};
use std::str::FromStr;

use crate::Error;

/// A key sequence that, read from an attached client's input, detaches it: the keys are
/// not passed on, the copy ends, the container runs on. Parsed from Docker's spec
/// (`--detach-keys`): keys separated by commas, each one character (`a`, `~`) or
/// `ctrl-<c>` for `<c>` one of `a`–`z`, `@`, `[`, `\`, `]`, `^`, `_`. The default is
/// Docker's, `ctrl-p,ctrl-q`.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let keys: cargohold::DetachKeys = "ctrl-x,y".parse()?;
/// assert_eq!(keys.as_bytes(), b"\x18y");
/// let mut to = Vec::new();
/// let detached = keys.copy(&mut &b"ls\n\x18y rest"[..], &mut to)?;
/// assert!(detached);
/// assert_eq!(to, b"ls\n");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

impl Default for DetachKeys {
    /// ctrl-p ctrl-q.
    fn default() -> Self {
        DetachKeys(vec![0x10, 0x11])
    }
}

impl FromStr for DetachKeys {
    type Err = Error;

    /// Docker's spec (see [`DetachKeys`]).
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] naming the first key that is neither one character nor a
    /// `ctrl-` key (an empty spec has none).
    fn from_str(spec: &str) -> Result<Self, Error> {
        spec.split(',')
            .map(|key| match key.as_bytes() {
                [c] => Ok(*c),
                [b'c', b't', b'r', b'l', b'-', c @ (b'a'..=b'z' | b'@' | b'[' | b'\\' | b']' | b'^' | b'_')] => {
                    Ok(c.to_ascii_uppercase() & 0x1f)
                }
                _ => Err(Error::spec(
                    "detach keys",
                    format!("unknown key {key:?} in {spec:?}"),
                )),
            })
            .collect::<Result<Vec<u8>, Error>>()
            .map(DetachKeys)
    }
}

impl DetachKeys {
    /// The bytes of the sequence.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Copies `from` into `to` (flushed after each read) until `from` ends — false — or the
    /// sequence has been read — true. Bytes that may begin the sequence are held back
    /// until the next ones show they do not; the sequence itself, and what came after it
    /// in the same read, are not passed on.
    ///
    /// # Errors
    /// Reading `from` or writing `to` fails.
    pub fn copy(&self, from: &mut impl Read, to: &mut impl Write) -> io::Result<bool> {
        let mut buf = [0u8; 8192];
        // how many bytes of the sequence were read last (held back)
        let mut held = 0;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut send = Vec::with_capacity(n + held);
            for &b in &buf[..n] {
                if b == self.0[held] {
                    held += 1;
                    if held == self.0.len() {
                        to.write_all(&send)?;
                        to.flush()?;
                        return Ok(true);
                    }
                    continue;
                }
                // not the sequence after all: what was held goes on, and this byte may
                // begin it afresh
                send.extend_from_slice(&self.0[..held]);
                held = usize::from(b == self.0[0]);
                if held == 0 {
                    send.push(b);
                }
            }
            to.write_all(&send)?;
            to.flush()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copied(keys: &DetachKeys, input: &[u8]) -> (bool, Vec<u8>) {
        let mut out = Vec::new();
        let detached = keys.copy(&mut &input[..], &mut out).unwrap();
        (detached, out)
    }

    #[test]
    fn specs_parse_as_dockers() {
        assert_eq!(DetachKeys::default().as_bytes(), b"\x10\x11");
        assert_eq!(
            "ctrl-p,ctrl-q".parse::<DetachKeys>().unwrap(),
            DetachKeys::default()
        );
        let k: DetachKeys = "ctrl-@,ctrl-a,ctrl-z,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_,a,~"
            .parse()
            .unwrap();
        assert_eq!(k.as_bytes(), b"\x00\x01\x1a\x1b\x1c\x1d\x1e\x1fa~");
        for bad in ["", "ctrl-", "ctrl-1", "ctrl-A", "ab", "a,,b", "ctrl-p,"] {
            let e = bad.parse::<DetachKeys>().unwrap_err().to_string();
            assert!(e.contains("detach keys"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn sequences_detach_and_the_rest_passes() {
        let keys: DetachKeys = "ctrl-x,y".parse().unwrap();
        assert_eq!(copied(&keys, b"abc"), (false, b"abc".to_vec()));
        assert_eq!(copied(&keys, b"a\x18yb"), (true, b"a".to_vec()));
        // a held ctrl-x that is not followed by y goes on, with what follows
        assert_eq!(
            copied(&keys, b"\x18a\x18\x18y"),
            (true, b"\x18a\x18".to_vec())
        );
        // the default sequence means nothing with other keys
        assert_eq!(copied(&keys, b"\x10\x11"), (false, b"\x10\x11".to_vec()));
        let default = DetachKeys::default();
        assert_eq!(
            copied(&default, b"ls\x10\x10\x11"),
            (true, b"ls\x10".to_vec())
        );
        // held at the end of the input: never sent, never detached
        assert_eq!(copied(&default, b"x\x10"), (false, b"x".to_vec()));
    }
}
