//! One upstream connection, plain TCP or TLS, behind a single type the pool can hold.

use bytes::BytesMut;
use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio::BufResult;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Instant;

pub enum UpstreamIo {
    Plain(TcpStream),
    Tls(Box<monoio_rustls::ClientTlsStream<TcpStream>>),
}

impl AsyncReadRent for UpstreamIo {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpstreamIo::Plain(s) => s.read(buf).await,
            // Boxed: the TLS read's state is several hundred bytes, and unboxed it would size
            // (and be moved with) every plain read too, once per upstream read of a stream.
            UpstreamIo::Tls(s) => Box::pin(s.read(buf)).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpstreamIo::Plain(s) => s.readv(buf).await,
            UpstreamIo::Tls(s) => s.readv(buf).await,
        }
    }
}

impl AsyncWriteRent for UpstreamIo {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpstreamIo::Plain(s) => s.write(buf).await,
            // Boxed as the read is: unboxed, the TLS write's state would size the plain one, and
            // with it the state of every upstream call's future.
            UpstreamIo::Tls(s) => Box::pin(s.write(buf)).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpstreamIo::Plain(s) => s.writev(buf).await,
            UpstreamIo::Tls(s) => Box::pin(s.writev(buf)).await,
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            UpstreamIo::Plain(s) => s.flush().await,
            UpstreamIo::Tls(s) => s.flush().await,
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            UpstreamIo::Plain(s) => s.shutdown().await,
            UpstreamIo::Tls(s) => s.shutdown().await,
        }
    }
}

/// A connection plus what is left in its read buffer.
pub struct UpstreamConn {
    pub io: UpstreamIo,
    /// The TCP socket under `io` (also under TLS, whose stream does not lend it out).
    pub fd: RawFd,
    pub rbuf: BytesMut,
    pub pool_key: Arc<str>,
    /// Taken from the pool (so it may have been closed by the peer while idle).
    pub reused: bool,
    pub idle_since: Instant,
}

impl UpstreamConn {
    /// Whether the peer left the connection as it was while it sat idle: neither closed it nor
    /// sent anything. One non-blocking peek. Bytes that arrive unasked (a server's `408` before
    /// its idle close) would otherwise be read as the answer to the next request, and a close
    /// would cost that request a write and a failed read before its retry.
    pub fn quiet_while_idle(&self) -> bool {
        let mut byte = 0u8;
        // SAFETY: a one-byte peek into a local; the fd is open for as long as `self.io` is.
        let n = unsafe {
            libc::recv(
                self.fd,
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
    }
}

#[cfg(test)]
mod tests {
    /// A stream's pump builds one upstream read future per event and moves it into place:
    /// it must stay the size of a plain TCP read, not of the TLS one (which is boxed).
    #[test]
    fn plain_read_future_stays_small() {
        fn size<F>(_: &F) -> usize {
            std::mem::size_of::<F>()
        }
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new().build().unwrap();
        rt.block_on(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let s = monoio::net::TcpStream::connect_addr(listener.local_addr().unwrap())
                .await
                .unwrap();
            let mut io = super::UpstreamIo::Plain(s);
            let read = crate::http::io::read_more(&mut io, bytes::BytesMut::new());
            // 888 bytes with the TLS read unboxed, 312 boxed (Rust 1.95, monoio 0.2).
            assert!(size(&read) <= 512, "read future is {} bytes", size(&read));
        });
    }
}
