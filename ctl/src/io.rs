//! A command's standard streams and the local terminal: [`Io`] (stdout,
//! stderr, stdin), [`Out`] (a shareable writer, so tests can capture what
//! a command prints), and [`RawMode`] for `exec -t`.
//!
//! Commands never touch `std::io::stdout()` directly: `main` hands in the
//! process's streams and the tests hand in buffers, through the same
//! `crate::execute`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::Result;

/// A cloneable, thread-safe writer (stdout, stderr, or a test's buffer).
#[derive(Clone)]
pub struct Out(Arc<Mutex<Box<dyn Write + Send>>>);

impl Out {
    pub fn new(w: impl Write + Send + 'static) -> Self {
        Out(Arc::new(Mutex::new(Box::new(w))))
    }

    /// A writer that collects into a shared buffer (for tests and for
    /// capturing a sub-command's output).
    pub fn buffer() -> (Out, Arc<Mutex<Vec<u8>>>) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        (Out::new(SharedBuf(buf.clone())), buf)
    }

    /// Writes and flushes `text`. Errors (a closed pipe, as in
    /// `miniktl get | head`) are ignored, as kubectl ignores them.
    pub fn text(&self, text: &str) {
        let mut out = self.clone();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("writer lock").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().expect("writer lock").flush()
    }
}

/// A `Write` into an `Arc<Mutex<Vec<u8>>>`.
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where standard input comes from.
#[derive(Clone)]
pub enum Input {
    /// The process's own stdin (possibly a terminal).
    Process,
    /// Fixed bytes (tests; `-f -` after reading).
    Bytes(Arc<Vec<u8>>),
}

/// A command's standard streams.
#[derive(Clone)]
pub struct Io {
    pub out: Out,
    pub err: Out,
    pub stdin: Input,
}

impl Io {
    /// The process's real stdout, stderr and stdin.
    pub fn process() -> Self {
        Io {
            out: Out::new(std::io::stdout()),
            err: Out::new(std::io::stderr()),
            stdin: Input::Process,
        }
    }

    /// Reads all of standard input.
    pub fn read_stdin(&self) -> Result<Vec<u8>> {
        match &self.stdin {
            Input::Process => {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
                Ok(buf)
            }
            Input::Bytes(b) => Ok(b.as_ref().clone()),
        }
    }

    /// Whether stdin is an interactive terminal.
    pub fn stdin_is_tty(&self) -> bool {
        // SAFETY: isatty only inspects the file descriptor.
        matches!(self.stdin, Input::Process) && unsafe { libc::isatty(0) == 1 }
    }
}

/// Copies a remote stream (an exec's stdout or stderr) to `to` until it
/// ends, flushing each chunk so interactive output shows at once.
pub async fn copy_out(from: &mut (impl tokio::io::AsyncRead + Unpin), mut to: Out) {
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let _ = to.write_all(&buf[..n]);
                let _ = to.flush();
            }
        }
    }
}

/// Copies standard input to a remote stream (an exec's stdin) until
/// either side ends, then closes the remote side so the command sees EOF.
pub async fn copy_in(input: Input, remote: &mut (impl tokio::io::AsyncWrite + Unpin)) {
    match input {
        Input::Bytes(b) => {
            let _ = remote.write_all(&b).await;
        }
        Input::Process => {
            let mut local = tokio::io::stdin();
            let mut buf = [0u8; 4096];
            loop {
                match local.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if remote.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    }
    let _ = remote.shutdown().await;
}

/// The local terminal in raw mode (no echo, no line buffering) until dropped.
pub struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    pub fn enable() -> Option<RawMode> {
        // SAFETY: plain termios calls on fd 0 with a zero-initialised struct.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(0, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            Some(RawMode { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the attributes read in `enable`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}
