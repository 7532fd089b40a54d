//! A packet tap on the loopback interface: the time the gateway under test holds each event and
//! each new stream, measured between the kernel's own transmit timestamps of the packets going
//! in and coming out of it. Unlike the client's view (upstream write -> client read), it leaves
//! out the load generator's own scheduling, which on a loaded single thread is larger than the
//! gateway's part.
//!
//! Every TCP packet with payload sent on `lo` is seen once (an `AF_PACKET` socket bound to `lo`,
//! through a classic BPF filter), with its `SO_TIMESTAMPNS` time: loopback stamps a packet as it
//! is sent, in the sender's context, so the time does not depend on when this thread reads it.
//!
//! - Per event: the upstream's packet carrying a stamp (the 16-digit text of an event), and the
//!   gateway's packet carrying the same stamp to its client. Stamps two streams wrote in the same
//!   microsecond are ambiguous and left out.
//! - Per probe stream: (the gateway's request to the upstream - the client's request to the
//!   gateway) + (the gateway's first event to the client - the upstream's first event to the
//!   gateway). Probes run one at a time, after every other stream has made its request.
//!
//! Needs `CAP_NET_RAW`; without it `start` says why and the run goes on without the tap.

use crate::stamps;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What the tap measured, in nanoseconds.
#[derive(Default)]
pub struct TapResult {
    /// Gateway time of each matched event.
    pub event_ns: Vec<u64>,
    /// Gateway time of each probe's request and first event.
    pub probe_ns: Vec<u64>,
    /// The two parts of `probe_ns`, in the same order: the request (client's request in ->
    /// request upstream, which includes any connect) and the first event (in -> out).
    pub probe_request_ns: Vec<u64>,
    pub probe_first_ns: Vec<u64>,
    /// Packets seen.
    pub packets: u64,
    /// Stamps seen going in more than once (left out).
    pub ambiguous: u64,
}

pub struct Tap {
    stop: Arc<AtomicBool>,
    /// When probing began (ns since the epoch, 0 = not yet): packets are read a little late, so
    /// they are placed by their own timestamps, not by when the tap reads them.
    probing: Arc<AtomicU64>,
    thread: JoinHandle<TapResult>,
}

impl Tap {
    /// Taps traffic between clients and the gateway on `gateway_port` and between the gateway
    /// and the upstream on `upstream_port`.
    pub fn start(gateway_port: u16, upstream_port: u16) -> Result<Tap, String> {
        let fd = open_socket()?;
        let stop = Arc::new(AtomicBool::new(false));
        let probing = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), probing.clone());
        let thread = std::thread::Builder::new()
            .name("tap".into())
            .spawn(move || run(fd, gateway_port, upstream_port, &s, &p))
            .map_err(|e| e.to_string())?;
        Ok(Tap { stop, probing, thread })
    }

    /// From now on, new requests are probes.
    pub fn start_probing(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        self.probing.store(now, Ordering::Release);
    }

    pub fn finish(self) -> TapResult {
        // Let the last packets in the socket's queue be read.
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or_default()
    }
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn open_socket() -> Result<i32, String> {
    // SAFETY: plain socket calls on an fd this function owns; every pointer passed points to a
    // live local of the size given.
    unsafe {
        let proto = (libc::ETH_P_IP as u16).to_be();
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, i32::from(proto));
        if fd < 0 {
            return Err(os_err("packet socket (needs CAP_NET_RAW)"));
        }
        let close = |e: String| {
            libc::close(fd);
            Err(e)
        };
        // Only TCP packets with payload. For SOCK_DGRAM, offsets are from the IP header.
        let code: [libc::sock_filter; 15] = [
            op(0x30, 0, 0, 9),       // ldb [9]: IP protocol
            op(0x15, 0, 12, 6),      // jeq TCP, else drop
            op(0x28, 0, 0, 2),       // ldh [2]: IP total length
            op(0x02, 0, 0, 0),       // st M[0]
            op(0xb1, 0, 0, 0),       // ldxb 4*([0]&0xf): IP header length
            op(0x50, 0, 0, 12),      // ldb [x+12]: TCP data offset
            op(0x74, 0, 0, 4),       // rsh 4
            op(0x64, 0, 0, 2),       // lsh 2: TCP header length
            op(0x0c, 0, 0, 0),       // add x
            op(0x07, 0, 0, 0),       // tax
            op(0x60, 0, 0, 0),       // ld M[0]
            op(0x1c, 0, 0, 0),       // sub x: payload length
            op(0x15, 1, 0, 0),       // jeq 0: drop
            op(0x06, 0, 0, 0x40000), // accept
            op(0x06, 0, 0, 0),       // drop
        ];
        let prog = libc::sock_fprog {
            len: code.len() as u16,
            filter: code.as_ptr() as *mut libc::sock_filter,
        };
        let set = |level, name, val: *const libc::c_void, len: usize| {
            libc::setsockopt(fd, level, name, val, len as libc::socklen_t) == 0
        };
        if !set(
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>(),
        ) {
            return close(os_err("SO_ATTACH_FILTER"));
        }
        let one: libc::c_int = 1;
        if !set(
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&one as *const libc::c_int).cast(),
            4,
        ) {
            return close(os_err("SO_TIMESTAMPNS"));
        }
        // A large queue: the tap shares the load generator's core and may fall behind.
        let size: libc::c_int = 256 << 20;
        if !set(
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            4,
        ) {
            set(
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                4,
            );
        }
        let lo = libc::if_nametoindex(c"lo".as_ptr());
        if lo == 0 {
            return close(os_err("if_nametoindex(lo)"));
        }
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = lo as i32;
        if libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        ) != 0
        {
            return close(os_err("bind to lo"));
        }
        Ok(fd)
    }
}

const fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// One packet: its time and where it went.
struct Packet<'a> {
    ns: u64,
    src: u16,
    dst: u16,
    payload: &'a [u8],
}

fn parse(buf: &[u8], ns: u64) -> Option<Packet<'_>> {
    let ihl = usize::from(*buf.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])).min(buf.len());
    let tcp = buf.get(ihl..total)?;
    let src = u16::from_be_bytes([*tcp.first()?, *tcp.get(1)?]);
    let dst = u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]);
    let doff = usize::from(*tcp.get(12)? >> 4) * 4;
    Some(Packet {
        ns,
        src,
        dst,
        payload: tcp.get(doff..)?,
    })
}

#[derive(Default)]
struct Probe {
    /// Client's request to the gateway, from the client's port.
    client_port: u16,
    request_in: u64,
    /// The gateway's request upstream, from the gateway's port.
    gateway_port: Option<u16>,
    request_out: u64,
    first_in: Option<u64>,
    first_out: Option<u64>,
}

fn run(fd: i32, gw: u16, up: u16, stop: &AtomicBool, probing: &AtomicU64) -> TapResult {
    let mut res = TapResult::default();
    // Upstream -> gateway stamp times; u64::MAX marks a stamp seen twice.
    let mut inbound: HashMap<u64, u64> = HashMap::with_capacity(1 << 16);
    let mut probes: Vec<Probe> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut cbuf = [0u64; 16];
    while !stop.load(Ordering::Acquire) {
        // Drained in turns 2 ms apart, never waiting in the socket: a reader waiting there
        // would be woken by every packet, and the gateway would pay for each wake-up inside its
        // own sends (the kernel wakes readers from the sender's context).
        let Some((n, ns)) = recv(fd, &mut buf, &mut cbuf) else {
            std::thread::sleep(std::time::Duration::from_millis(2));
            continue;
        };
        res.packets += 1;
        let Some(p) = parse(&buf[..n], ns) else { continue };
        if p.src == up {
            stamps(p.payload, |s| {
                if inbound.insert(s, p.ns).is_some() {
                    inbound.insert(s, u64::MAX);
                    res.ambiguous += 1;
                }
            });
            if let Some(pr) = probes.last_mut().filter(|pr| pr.gateway_port == Some(p.dst)) {
                if pr.first_in.is_none() && memchr::memmem::find(p.payload, b"data:").is_some() {
                    pr.first_in = Some(p.ns);
                }
            }
        } else if p.src == gw {
            stamps(p.payload, |s| {
                if let Some(&t) = inbound.get(&s) {
                    if t != u64::MAX {
                        res.event_ns.push(p.ns.saturating_sub(t));
                    }
                }
            });
            if let Some(pr) = probes.last_mut().filter(|pr| pr.client_port == p.dst) {
                if pr.first_out.is_none() && memchr::memmem::find(p.payload, b"data:").is_some() {
                    pr.first_out = Some(p.ns);
                }
            }
        } else if p.payload.starts_with(b"POST ") && (1..=p.ns).contains(&probing.load(Ordering::Acquire)) {
            if p.dst == gw {
                probes.push(Probe {
                    client_port: p.src,
                    request_in: p.ns,
                    ..Probe::default()
                });
            } else if p.dst == up {
                if let Some(pr) = probes.last_mut().filter(|pr| pr.gateway_port.is_none()) {
                    pr.gateway_port = Some(p.src);
                    pr.request_out = p.ns;
                }
            }
        }
    }
    // SAFETY: the fd is this thread's.
    unsafe { libc::close(fd) };
    for pr in &probes {
        if let (Some(_), Some(a), Some(b)) = (pr.gateway_port, pr.first_in, pr.first_out) {
            let (request, first) = (pr.request_out.saturating_sub(pr.request_in), b.saturating_sub(a));
            res.probe_ns.push(request + first);
            res.probe_request_ns.push(request);
            res.probe_first_ns.push(first);
        }
    }
    res
}

/// One packet into `buf`, with its kernel timestamp in nanoseconds since the epoch.
fn recv(fd: i32, buf: &mut [u8], cbuf: &mut [u64; 16]) -> Option<(usize, u64)> {
    // SAFETY: msghdr points at `buf` and `cbuf`, both live and of the sizes given.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(cbuf);
        let n = libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT);
        if n <= 0 {
            return None;
        }
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return Some((n as usize, ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        None
    }
}
