//! The DHCPv4 server of the main bridge: [`packet`] (the wire format) and [`server`] (the
//! answers) are pure; [`serve`] is the thin I/O around them.

pub mod packet;
pub mod server;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::Leases;

/// Where the host's name servers are read from (on every answer, so changes are picked up).
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// A UDP socket on port 67 of `bridge` only, able to broadcast. Several agents on one host (as
/// in tests) each bind one: broadcasts reach them all, and each answers only its own guests.
pub fn bind(bridge: &str) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    socket.bind_device(Some(bridge.as_bytes()))?;
    socket.bind(&SocketAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67)).into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Answers DHCP on `socket` from `leases`, forever.
pub async fn serve(socket: UdpSocket, leases: Arc<Leases>) {
    let mut buf = vec![0u8; 1500];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!(error = %e, "DHCP receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(request) = packet::Packet::decode(&buf[..len]) else {
            continue;
        };
        let Some(mac) = request.mac() else { continue };
        let lease = leases.get(&mac);
        let dns = std::fs::read_to_string(RESOLV_CONF)
            .map(|text| server::nameservers(&text))
            .unwrap_or_default();
        let Some(reply) = server::respond(&request, lease.as_ref(), &dns) else {
            continue;
        };
        let kind = reply.packet.message_type();
        if kind == Some(packet::MessageType::Offer) {
            tracing::debug!(%peer, yiaddr = %reply.packet.yiaddr, "DHCP offer");
        } else {
            tracing::info!(mac = %format_mac(&mac), answer = ?kind, address = %reply.packet.yiaddr, "DHCP answer");
        }
        let bytes = reply.packet.encode();
        let sent = socket
            .async_io(Interest::WRITABLE, || {
                send_from(&socket, &bytes, reply.to, reply.from)
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(to = %reply.to, error = %e, "DHCP reply not sent");
        }
    }
}

fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Sends `data` to `to` with source address `from` (IP_PKTINFO): the bridge carries one
/// gateway per block, and a client expects the reply from its own block's server.
fn send_from(
    socket: &UdpSocket,
    data: &[u8],
    to: SocketAddrV4,
    from: Ipv4Addr,
) -> std::io::Result<()> {
    let mut address = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: to.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*to.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let info = libc::in_pktinfo {
        ipi_ifindex: 0,
        ipi_spec_dst: libc::in_addr {
            s_addr: u32::from(from).to_be(),
        },
        ipi_addr: libc::in_addr { s_addr: 0 },
    };
    // u64 elements keep the control buffer aligned for cmsghdr
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: every pointer in msghdr refers to a live local of the right size; the control
    // buffer (64 bytes) holds one cmsghdr with an in_pktinfo (CMSG_SPACE is 32 bytes).
    let sent = unsafe {
        let space = libc::CMSG_SPACE(std::mem::size_of::<libc::in_pktinfo>() as u32) as usize;
        let mut header: libc::msghdr = std::mem::zeroed();
        header.msg_name = (&mut address as *mut libc::sockaddr_in).cast();
        header.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        header.msg_iov = &mut iov;
        header.msg_iovlen = 1;
        header.msg_control = control.as_mut_ptr().cast();
        header.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&header);
        (*cmsg).cmsg_level = libc::IPPROTO_IP;
        (*cmsg).cmsg_type = libc::IP_PKTINFO;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::in_pktinfo>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>(), info);
        libc::sendmsg(socket.as_raw_fd(), &header, 0)
    };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
