//! The server side of SPDY/3.1, the stream multiplexer Kubernetes'
//! port-forward still speaks (kubectl tunnels it through a WebSocket, or
//! upgrades an HTTP/1.1 connection to it directly). Written from the SPDY/3
//! draft (draft-mbelshe-httpbis-spdy-00) and the SPDY/3.1 flow-control
//! additions; see `portforward.rs` for the Kubernetes protocol on top.
//!
//! Frames: every frame has an 8-byte header. Control frames set the top
//! bit, then carry version (3) and type; data frames carry a 31-bit stream
//! ID. Both end with 8 bits of flags (FIN = 1) and a 24-bit length.
//! Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are zlib streams primed
//! with the protocol's dictionary, one compression context per direction
//! for the whole session, flushed (SYNC_FLUSH) after every block.
//!
//! The session: every SYN_STREAM the client opens is answered with a
//! SYN_REPLY and handed to the caller as an [`IncomingStream`] (the
//! client-opens, server-accepts shape port-forward needs); DATA with FIN
//! half-closes it, RST_STREAM aborts it, PINGs from the client are echoed,
//! GOAWAY or the connection's end aborts every stream.
//!
//! Flow control (SPDY/3.1): as receiver, consumed bytes are handed back
//! with WINDOW_UPDATE for the stream and for the session (stream 0); a
//! stream whose consumer is slow stops the reader, as TCP would. As sender,
//! windows (64 KiB, or SETTINGS_INITIAL_WINDOW_SIZE) are tracked always but
//! only enforced once the peer has sent a WINDOW_UPDATE: Kubernetes' own
//! SPDY library (spdystream, inside kubectl) never sends one, and a sender
//! that waited for it would stall every forward after 64 KiB.
//!
//! Simplified: no server push or server-initiated streams, no priorities,
//! CREDENTIAL frames are ignored, headers of HEADERS frames are decoded (to
//! keep the compression context in step) and dropped.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

const VERSION: u16 = 3;
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;
const FLAG_FIN: u8 = 0x01;
const SETTINGS_INITIAL_WINDOW_SIZE: u32 = 7;
const DEFAULT_WINDOW: i64 = 64 * 1024;
/// The largest DATA frame this side sends.
const MAX_DATA: usize = 32 * 1024;
/// Frames larger than this are refused (header blocks and data alike).
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// RST_STREAM status codes.
pub const PROTOCOL_ERROR: u32 = 1;
pub const REFUSED_STREAM: u32 = 3;
pub const CANCEL: u32 = 5;
pub const INTERNAL_ERROR: u32 = 6;

/// The header-compression dictionary of SPDY/3 (section 2.6.10.1 of the
/// draft): these words, each preceded by its length as 4 big-endian bytes,
/// then a run of common values without lengths.
pub fn dictionary() -> &'static [u8] {
    static DICT: LazyLock<Vec<u8>> = LazyLock::new(|| {
        const WORDS: &[&str] = &[
            "options",
            "head",
            "post",
            "put",
            "delete",
            "trace",
            "accept",
            "accept-charset",
            "accept-encoding",
            "accept-language",
            "accept-ranges",
            "age",
            "allow",
            "authorization",
            "cache-control",
            "connection",
            "content-base",
            "content-encoding",
            "content-language",
            "content-length",
            "content-location",
            "content-md5",
            "content-range",
            "content-type",
            "date",
            "etag",
            "expect",
            "expires",
            "from",
            "host",
            "if-match",
            "if-modified-since",
            "if-none-match",
            "if-range",
            "if-unmodified-since",
            "last-modified",
            "location",
            "max-forwards",
            "pragma",
            "proxy-authenticate",
            "proxy-authorization",
            "range",
            "referer",
            "retry-after",
            "server",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "user-agent",
            "vary",
            "via",
            "warning",
            "www-authenticate",
            "method",
            "get",
            "status",
            "200 OK",
            "version",
            "HTTP/1.1",
            "url",
            "public",
            "set-cookie",
            "keep-alive",
            "origin",
        ];
        const TAIL: &str = concat!(
            "100101201202205206300302303304305306307402405406407408409410411412413414",
            "415416417502504505203 Non-Authoritative Information204 No Content",
            "301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden",
            "404 Not Found500 Internal Server Error501 Not Implemented",
            "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec ",
            "00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,",
            "image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
            "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch",
            "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
        );
        let mut d = Vec::new();
        for w in WORDS {
            d.extend_from_slice(&(w.len() as u32).to_be_bytes());
            d.extend_from_slice(w.as_bytes());
        }
        d.extend_from_slice(TAIL.as_bytes());
        d
    });
    &DICT
}

pub type Headers = Vec<(String, String)>;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Data {
        stream: u32,
        fin: bool,
        data: Bytes,
    },
    SynStream {
        stream: u32,
        fin: bool,
        headers: Headers,
    },
    SynReply {
        stream: u32,
        fin: bool,
        headers: Headers,
    },
    RstStream {
        stream: u32,
        status: u32,
    },
    Settings {
        initial_window: Option<u32>,
    },
    Ping(u32),
    GoAway {
        last_good: u32,
        status: u32,
    },
    Headers {
        stream: u32,
        fin: bool,
        headers: Headers,
    },
    WindowUpdate {
        stream: u32,
        delta: u32,
    },
    /// A control frame of a type this side ignores (CREDENTIAL, NOOP…).
    Other(u16),
}

fn protocol(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// The zlib contexts of one session: one per direction.
pub struct HeaderCodec {
    inflate: Decompress,
    deflate: Compress,
}

impl Default for HeaderCodec {
    fn default() -> Self {
        let mut deflate = Compress::new(Compression::default(), true);
        deflate
            .set_dictionary(dictionary())
            .expect("a fresh deflate stream takes a dictionary");
        HeaderCodec {
            inflate: Decompress::new(true),
            deflate,
        }
    }
}

impl HeaderCodec {
    /// Encodes and compresses a header block.
    pub fn encode(&mut self, headers: &[(String, String)]) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            // SPDY header names are lower case; kubectl rejects others.
            let name = name.to_ascii_lowercase();
            raw.extend_from_slice(&(name.len() as u32).to_be_bytes());
            raw.extend_from_slice(name.as_bytes());
            raw.extend_from_slice(&(value.len() as u32).to_be_bytes());
            raw.extend_from_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let start = self.deflate.total_in();
        loop {
            let used = (self.deflate.total_in() - start) as usize;
            out.reserve(256);
            self.deflate
                .compress_vec(&raw[used..], &mut out, FlushCompress::Sync)
                .expect("deflate of an in-memory buffer");
            let used = (self.deflate.total_in() - start) as usize;
            // Done once all input is in and the flush left room to spare.
            if used == raw.len() && out.len() < out.capacity() {
                return out;
            }
        }
    }

    /// Decompresses and parses a header block.
    pub fn decode(&mut self, block: &[u8]) -> io::Result<Headers> {
        let mut raw: Vec<u8> = Vec::with_capacity(block.len() * 4 + 64);
        let start = self.inflate.total_in();
        loop {
            let used = (self.inflate.total_in() - start) as usize;
            if raw.len() == raw.capacity() {
                raw.reserve(1024);
            }
            if raw.len() > MAX_FRAME {
                return Err(protocol("header block too large"));
            }
            match self
                .inflate
                .decompress_vec(&block[used..], &mut raw, FlushDecompress::Sync)
            {
                Ok(Status::StreamEnd) => break,
                Ok(_) => {
                    let used = (self.inflate.total_in() - start) as usize;
                    if used == block.len() && raw.len() < raw.capacity() {
                        break;
                    }
                }
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(dictionary())
                        .map_err(|e| protocol(format!("header dictionary: {e}")))?;
                }
                Err(e) => return Err(protocol(format!("header block: {e}"))),
            }
        }
        parse_headers(&raw)
    }
}

fn parse_headers(raw: &[u8]) -> io::Result<Headers> {
    let mut at = 0usize;
    let mut take = |n: usize| -> io::Result<&[u8]> {
        let s = raw
            .get(at..at + n)
            .ok_or_else(|| protocol("truncated header block"))?;
        at += n;
        Ok(s)
    };
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let count = be32(take(4)?);
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let n = be32(take(4)?);
        let name = String::from_utf8_lossy(take(n)?).into_owned();
        let n = be32(take(4)?);
        let value = String::from_utf8_lossy(take(n)?).into_owned();
        headers.push((name, value));
    }
    Ok(headers)
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads one frame; `None` at a clean end of the connection.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    codec: &mut HeaderCodec,
) -> io::Result<Option<Frame>> {
    let mut head = [0u8; 8];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let flags = head[4];
    let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
    if len > MAX_FRAME {
        return Err(protocol(format!("frame of {len} bytes")));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    let fin = flags & FLAG_FIN != 0;
    if head[0] & 0x80 == 0 {
        let stream = be32(&head[..4]) & 0x7fff_ffff;
        return Ok(Some(Frame::Data {
            stream,
            fin,
            data: Bytes::from(body),
        }));
    }
    let version = u16::from_be_bytes([head[0], head[1]]) & 0x7fff;
    if version != VERSION {
        return Err(protocol(format!(
            "SPDY version {version} (only 3 is spoken)"
        )));
    }
    let kind = u16::from_be_bytes([head[2], head[3]]);
    let need = |n: usize| {
        if body.len() < n {
            Err(protocol(format!("control frame {kind} too short")))
        } else {
            Ok(())
        }
    };
    let id = |b: &[u8]| be32(b) & 0x7fff_ffff;
    let frame = match kind {
        SYN_STREAM => {
            need(10)?;
            Frame::SynStream {
                stream: id(&body),
                fin,
                headers: codec.decode(&body[10..])?,
            }
        }
        SYN_REPLY => {
            need(4)?;
            Frame::SynReply {
                stream: id(&body),
                fin,
                headers: codec.decode(&body[4..])?,
            }
        }
        HEADERS => {
            need(4)?;
            Frame::Headers {
                stream: id(&body),
                fin,
                headers: codec.decode(&body[4..])?,
            }
        }
        RST_STREAM => {
            need(8)?;
            Frame::RstStream {
                stream: id(&body),
                status: be32(&body[4..]),
            }
        }
        SETTINGS => {
            need(4)?;
            let n = be32(&body) as usize;
            let mut initial_window = None;
            for i in 0..n {
                let at = 4 + i * 8;
                let Some(entry) = body.get(at..at + 8) else {
                    return Err(protocol("truncated SETTINGS"));
                };
                if be32(entry) & 0x00ff_ffff == SETTINGS_INITIAL_WINDOW_SIZE {
                    initial_window = Some(be32(&entry[4..]));
                }
            }
            Frame::Settings { initial_window }
        }
        PING => {
            need(4)?;
            Frame::Ping(be32(&body))
        }
        GOAWAY => {
            need(4)?;
            Frame::GoAway {
                last_good: id(&body),
                status: body.get(4..8).map(be32).unwrap_or(0),
            }
        }
        WINDOW_UPDATE => {
            need(8)?;
            Frame::WindowUpdate {
                stream: id(&body),
                delta: id(&body[4..]),
            }
        }
        other => Frame::Other(other),
    };
    Ok(Some(frame))
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.push(flags);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    out
}

/// Encodes one frame (header blocks through the session's compressor).
pub fn encode_frame(frame: &Frame, codec: &mut HeaderCodec) -> Vec<u8> {
    let fin_flag = |fin: bool| if fin { FLAG_FIN } else { 0 };
    match frame {
        Frame::Data { stream, fin, data } => {
            let mut out = Vec::with_capacity(8 + data.len());
            out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
            out.push(fin_flag(*fin));
            out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
            out.extend_from_slice(data);
            out
        }
        Frame::SynStream {
            stream,
            fin,
            headers,
        } => {
            let mut p = stream.to_be_bytes().to_vec();
            p.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            p.extend(codec.encode(headers));
            control(SYN_STREAM, fin_flag(*fin), &p)
        }
        Frame::SynReply {
            stream,
            fin,
            headers,
        } => {
            let mut p = stream.to_be_bytes().to_vec();
            p.extend(codec.encode(headers));
            control(SYN_REPLY, fin_flag(*fin), &p)
        }
        Frame::Headers {
            stream,
            fin,
            headers,
        } => {
            let mut p = stream.to_be_bytes().to_vec();
            p.extend(codec.encode(headers));
            control(HEADERS, fin_flag(*fin), &p)
        }
        Frame::RstStream { stream, status } => {
            let mut p = stream.to_be_bytes().to_vec();
            p.extend_from_slice(&status.to_be_bytes());
            control(RST_STREAM, 0, &p)
        }
        Frame::Settings { initial_window } => {
            let mut p = Vec::new();
            match initial_window {
                Some(w) => {
                    p.extend_from_slice(&1u32.to_be_bytes());
                    p.extend_from_slice(&SETTINGS_INITIAL_WINDOW_SIZE.to_be_bytes());
                    p.extend_from_slice(&w.to_be_bytes());
                }
                None => p.extend_from_slice(&0u32.to_be_bytes()),
            }
            control(SETTINGS, 0, &p)
        }
        Frame::Ping(id) => control(PING, 0, &id.to_be_bytes()),
        Frame::GoAway { last_good, status } => {
            let mut p = last_good.to_be_bytes().to_vec();
            p.extend_from_slice(&status.to_be_bytes());
            control(GOAWAY, 0, &p)
        }
        Frame::WindowUpdate { stream, delta } => {
            let mut p = stream.to_be_bytes().to_vec();
            p.extend_from_slice(&delta.to_be_bytes());
            control(WINDOW_UPDATE, 0, &p)
        }
        Frame::Other(kind) => control(*kind, 0, &[]),
    }
}

/// What a stream's consumer receives: data, then `Fin` when the client
/// half-closed it. The channel closing without `Fin` means the stream was
/// reset or the session ended.
#[derive(Debug)]
pub enum Inbound {
    Data(Bytes),
    Fin,
}

/// A stream the client opened.
pub struct IncomingStream {
    pub id: u32,
    pub headers: Headers,
    pub inbound: mpsc::Receiver<Inbound>,
    pub out: StreamWriter,
}

impl IncomingStream {
    /// The value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Send windows (SPDY/3.1): per stream and for the session.
#[derive(Default)]
struct Windows {
    enforce: AtomicBool,
    state: Mutex<WindowState>,
    changed: Notify,
}

struct WindowState {
    session: i64,
    initial: i64,
    streams: HashMap<u32, i64>,
}

impl Default for WindowState {
    fn default() -> Self {
        WindowState {
            session: DEFAULT_WINDOW,
            initial: DEFAULT_WINDOW,
            streams: HashMap::new(),
        }
    }
}

impl Windows {
    /// Takes up to `want` bytes of window for `stream`, waiting while the
    /// peer enforces flow control and has none to give.
    async fn take(&self, stream: u32, want: usize) -> usize {
        loop {
            let notified = self.changed.notified();
            {
                let mut s = self.state.lock().unwrap();
                let initial = s.initial;
                let stream_window = *s.streams.entry(stream).or_insert(initial);
                let available = stream_window.min(s.session);
                let n = if self.enforce.load(Ordering::Relaxed) {
                    (available.max(0) as usize).min(want)
                } else {
                    want
                };
                if n > 0 {
                    s.session -= n as i64;
                    *s.streams.get_mut(&stream).expect("inserted above") -= n as i64;
                    return n;
                }
            }
            notified.await;
        }
    }

    fn update(&self, stream: u32, delta: u32) {
        self.enforce.store(true, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        if stream == 0 {
            s.session += i64::from(delta);
        } else {
            let initial = s.initial;
            *s.streams.entry(stream).or_insert(initial) += i64::from(delta);
        }
        drop(s);
        self.changed.notify_waiters();
    }

    fn set_initial(&self, window: u32) {
        let mut s = self.state.lock().unwrap();
        let change = i64::from(window) - s.initial;
        s.initial = i64::from(window);
        for w in s.streams.values_mut() {
            *w += change;
        }
        drop(s);
        self.changed.notify_waiters();
    }

    fn forget(&self, stream: u32) {
        self.state.lock().unwrap().streams.remove(&stream);
    }
}

/// The sending side of one stream.
#[derive(Clone)]
pub struct StreamWriter {
    id: u32,
    tx: mpsc::Sender<Frame>,
    windows: Arc<Windows>,
}

impl StreamWriter {
    /// Sends data, in frames the send window allows.
    pub async fn write(&self, mut data: Bytes) -> io::Result<()> {
        while !data.is_empty() {
            let n = self.windows.take(self.id, data.len().min(MAX_DATA)).await;
            let chunk = data.split_to(n);
            self.send(Frame::Data {
                stream: self.id,
                fin: false,
                data: chunk,
            })
            .await?;
        }
        Ok(())
    }

    /// Half-closes the stream (an empty DATA frame with FIN).
    pub async fn finish(&self) -> io::Result<()> {
        self.windows.forget(self.id);
        self.send(Frame::Data {
            stream: self.id,
            fin: true,
            data: Bytes::new(),
        })
        .await
    }

    /// Aborts the stream.
    pub async fn reset(&self, status: u32) -> io::Result<()> {
        self.windows.forget(self.id);
        self.send(Frame::RstStream {
            stream: self.id,
            status,
        })
        .await
    }

    async fn send(&self, frame: Frame) -> io::Result<()> {
        self.tx
            .send(frame)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "SPDY session ended"))
    }
}

/// Runs a server session on `io`; every stream the client opens is sent
/// on `streams` (after its SYN_REPLY). Returns when the connection ends.
pub async fn serve<IO>(io: IO, streams: mpsc::Sender<IncomingStream>) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(io);
    let (tx, mut rx) = mpsc::channel::<Frame>(64);
    // The writer owns the compressor, so header blocks reach the wire in
    // the order they were compressed.
    let writing = tokio::spawn(async move {
        let mut codec = HeaderCodec::default();
        while let Some(frame) = rx.recv().await {
            let goaway = matches!(frame, Frame::GoAway { .. });
            let bytes = encode_frame(&frame, &mut codec);
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
            // Write whatever else is queued before flushing.
            if rx.is_empty() && writer.flush().await.is_err() {
                break;
            }
            if goaway {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });

    let windows = Arc::new(Windows::default());
    let mut codec = HeaderCodec::default();
    let mut open: HashMap<u32, mpsc::Sender<Inbound>> = HashMap::new();
    let mut last_stream = 0u32;
    // Bytes consumed but not yet handed back with WINDOW_UPDATE.
    let mut unacked: HashMap<u32, u32> = HashMap::new();
    let mut session_unacked = 0u32;
    let result = loop {
        let frame = match read_frame(&mut reader, &mut codec).await {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => {
                let _ = tx
                    .send(Frame::GoAway {
                        last_good: last_stream,
                        status: 1,
                    })
                    .await;
                break Err(e);
            }
        };
        match frame {
            Frame::SynStream {
                stream,
                fin,
                headers,
            } => {
                // Client streams are odd and increase.
                if stream % 2 == 0 || stream <= last_stream {
                    let _ = tx
                        .send(Frame::RstStream {
                            stream,
                            status: PROTOCOL_ERROR,
                        })
                        .await;
                    continue;
                }
                last_stream = stream;
                let _ = tx
                    .send(Frame::SynReply {
                        stream,
                        fin: false,
                        headers: Vec::new(),
                    })
                    .await;
                let (in_tx, in_rx) = mpsc::channel(16);
                if fin {
                    let _ = in_tx.try_send(Inbound::Fin);
                } else {
                    open.insert(stream, in_tx);
                }
                let incoming = IncomingStream {
                    id: stream,
                    headers,
                    inbound: in_rx,
                    out: StreamWriter {
                        id: stream,
                        tx: tx.clone(),
                        windows: windows.clone(),
                    },
                };
                if streams.send(incoming).await.is_err() {
                    break Ok(());
                }
            }
            Frame::Data { stream, fin, data } => {
                let len = data.len() as u32;
                if let Some(sender) = open.get(&stream) {
                    if !data.is_empty() && sender.send(Inbound::Data(data)).await.is_err() {
                        open.remove(&stream);
                    }
                }
                if fin {
                    if let Some(sender) = open.remove(&stream) {
                        let _ = sender.send(Inbound::Fin).await;
                    }
                    unacked.remove(&stream);
                } else if len > 0 {
                    let n = unacked.entry(stream).or_default();
                    *n += len;
                    if i64::from(*n) >= DEFAULT_WINDOW / 2 {
                        let delta = std::mem::take(n);
                        let _ = tx.send(Frame::WindowUpdate { stream, delta }).await;
                    }
                }
                session_unacked += len;
                if i64::from(session_unacked) >= DEFAULT_WINDOW / 2 {
                    let delta = std::mem::take(&mut session_unacked);
                    let _ = tx.send(Frame::WindowUpdate { stream: 0, delta }).await;
                }
            }
            Frame::RstStream { stream, .. } => {
                // Dropping the sender tells the consumer: aborted.
                open.remove(&stream);
                unacked.remove(&stream);
                windows.forget(stream);
            }
            Frame::Ping(id) => {
                // Echo the client's (odd) pings; ours would be even.
                if id % 2 == 1 {
                    let _ = tx.send(Frame::Ping(id)).await;
                }
            }
            Frame::WindowUpdate { stream, delta } => windows.update(stream, delta),
            Frame::Settings { initial_window } => {
                if let Some(w) = initial_window {
                    windows.set_initial(w);
                }
            }
            Frame::GoAway { .. } => break Ok(()),
            Frame::SynReply { .. } | Frame::Headers { .. } | Frame::Other(_) => {}
        }
    };
    // Every stream still open is aborted.
    open.clear();
    drop(tx);
    drop(streams);
    let _ = writing.await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_the_specifications() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\0\0\0\x07options");
        assert!(d.ends_with(b",*,enq=0."));
    }

    #[test]
    fn header_blocks_round_trip_through_one_context_per_direction() {
        let mut client = HeaderCodec::default();
        let mut server = HeaderCodec::default();
        for i in 0..3 {
            let headers = vec![
                ("streamtype".to_string(), "data".to_string()),
                ("port".to_string(), "80".to_string()),
                ("requestid".to_string(), i.to_string()),
            ];
            let frame = Frame::SynStream {
                stream: 2 * i + 1,
                fin: false,
                headers: headers.clone(),
            };
            let bytes = encode_frame(&frame, &mut client);
            let decoded = futures::executor::block_on(read_frame(&mut &bytes[..], &mut server))
                .unwrap()
                .unwrap();
            assert_eq!(decoded, frame);
        }
    }

    #[test]
    fn frames_round_trip() {
        let mut a = HeaderCodec::default();
        let mut b = HeaderCodec::default();
        let frames = [
            Frame::Data {
                stream: 3,
                fin: true,
                data: Bytes::from_static(b"hello"),
            },
            Frame::RstStream {
                stream: 5,
                status: CANCEL,
            },
            Frame::Ping(7),
            Frame::GoAway {
                last_good: 9,
                status: 0,
            },
            Frame::WindowUpdate {
                stream: 0,
                delta: 4096,
            },
            Frame::Settings {
                initial_window: Some(1 << 20),
            },
        ];
        for f in frames {
            let bytes = encode_frame(&f, &mut a);
            let back = futures::executor::block_on(read_frame(&mut &bytes[..], &mut b))
                .unwrap()
                .unwrap();
            assert_eq!(back, f);
        }
    }
}
