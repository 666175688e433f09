//! Binding frontend sockets.
//!
//! Sockets are bound with `IP_FREEBIND`, so a ClusterIP can be bound even
//! before the service-CIDR route exists (and a node IP before its Docker
//! network is up); traffic flows as soon as the address becomes local.
//! TCP listeners set `SO_REUSEADDR` so a restarted proxy can rebind ports
//! whose old connections linger in TIME_WAIT (on Linux this never lets two
//! listeners share a port; UDP sockets do not set it, where it would).

use std::net::SocketAddr;

fn socket(addr: SocketAddr, ty: socket2::Type) -> std::io::Result<socket2::Socket> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), ty, None)?;
    match addr {
        SocketAddr::V4(_) => socket.set_freebind_v4(true)?,
        SocketAddr::V6(_) => socket.set_freebind_v6(true)?,
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// A listening TCP socket on `addr`.
pub fn tcp_listener(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = socket(addr, socket2::Type::STREAM)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    tokio::net::TcpListener::from_std(socket.into())
}

/// A UDP socket bound to `addr`.
pub fn udp_socket(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let socket = socket(addr, socket2::Type::DGRAM)?;
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}
