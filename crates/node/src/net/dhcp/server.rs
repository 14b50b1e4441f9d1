//! The DHCP server's answers, as a pure function of one request, the client's lease and the
//! name servers: an OFFER for a DISCOVER, an ACK for a REQUEST of the leased address, a NAK
//! for a REQUEST of any other, nothing for clients without a lease (another server may know
//! them) or for REQUESTs naming another server.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::packet::{BOOTREPLY, BOOTREQUEST, MessageType, Packet, option};
use crate::net::Lease;

/// How long a lease lasts.
pub const LEASE_SECONDS: u32 = 86_400;

/// A reply and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub packet: Packet,
    pub to: SocketAddrV4,
    /// The address to send from: the server id (the block's gateway).
    pub from: Ipv4Addr,
}

const CLIENT_PORT: u16 = 68;
const SERVER_PORT: u16 = 67;

/// The answer to `request` from a client whose lease is `lease` (None: not ours). `dns` are the
/// name servers to hand out; when empty the gateway is named instead.
pub fn respond(request: &Packet, lease: Option<&Lease>, dns: &[Ipv4Addr]) -> Option<Reply> {
    if request.op != BOOTREQUEST {
        return None;
    }
    request.mac()?;
    let lease = lease?;
    let kind = request.message_type()?;
    match kind {
        MessageType::Discover => Some(answer(request, lease, dns, MessageType::Offer)),
        MessageType::Request => {
            if let Some(server) = request.option_ip(option::SERVER_ID)
                && server != lease.gateway
            {
                return None; // the client took another server's offer
            }
            let wanted = request
                .option_ip(option::REQUESTED_IP)
                .unwrap_or(request.ciaddr);
            if wanted == lease.ip {
                Some(answer(request, lease, dns, MessageType::Ack))
            } else {
                Some(nak(request, lease))
            }
        }
        MessageType::Inform => Some(answer(request, lease, dns, MessageType::Ack)),
        _ => None,
    }
}

fn ip_option(code: u8, ips: &[Ipv4Addr]) -> (u8, Vec<u8>) {
    (code, ips.iter().flat_map(|ip| ip.octets()).collect())
}

fn reply_to(request: &Packet) -> Packet {
    Packet {
        op: BOOTREPLY,
        htype: request.htype,
        hlen: request.hlen,
        hops: 0,
        xid: request.xid,
        secs: 0,
        flags: request.flags,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        siaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: request.giaddr,
        chaddr: request.chaddr,
        options: Vec::new(),
    }
}

fn answer(request: &Packet, lease: &Lease, dns: &[Ipv4Addr], kind: MessageType) -> Reply {
    let mut packet = reply_to(request);
    let inform = request.message_type() == Some(MessageType::Inform);
    packet.ciaddr = request.ciaddr;
    let mut options = vec![
        (option::MESSAGE_TYPE, vec![kind as u8]),
        ip_option(option::SERVER_ID, &[lease.gateway]),
    ];
    if !inform {
        packet.yiaddr = lease.ip;
        options.extend([
            (option::LEASE_TIME, LEASE_SECONDS.to_be_bytes().to_vec()),
            (
                option::RENEWAL_TIME,
                (LEASE_SECONDS / 2).to_be_bytes().to_vec(),
            ),
            (
                option::REBINDING_TIME,
                (LEASE_SECONDS / 8 * 7).to_be_bytes().to_vec(),
            ),
        ]);
    }
    let servers = if dns.is_empty() {
        &[lease.gateway][..]
    } else {
        dns
    };
    options.extend([
        ip_option(option::SUBNET_MASK, &[lease.netmask()]),
        ip_option(option::BROADCAST, &[lease.broadcast()]),
        ip_option(option::ROUTER, &[lease.gateway]),
        ip_option(option::DNS, servers),
    ]);
    packet.options = options;
    Reply {
        to: destination(request, false),
        from: lease.gateway,
        packet,
    }
}

fn nak(request: &Packet, lease: &Lease) -> Reply {
    let mut packet = reply_to(request);
    packet.options = vec![
        (option::MESSAGE_TYPE, vec![MessageType::Nak as u8]),
        ip_option(option::SERVER_ID, &[lease.gateway]),
        (
            option::MESSAGE,
            b"requested address is not leased to this client".to_vec(),
        ),
    ];
    Reply {
        to: destination(request, true),
        from: lease.gateway,
        packet,
    }
}

/// RFC 2131 §4.1: through the relay if there is one; a NAK, or a client without an address,
/// by broadcast; a client that has its address (renewal, INFORM) by unicast. A client without
/// an address cannot be reached by unicast without an ARP entry the server cannot add over a
/// UDP socket, so the broadcast flag is not needed for a broadcast.
fn destination(request: &Packet, nak: bool) -> SocketAddrV4 {
    if !request.giaddr.is_unspecified() {
        return SocketAddrV4::new(request.giaddr, SERVER_PORT);
    }
    if nak || request.ciaddr.is_unspecified() {
        return SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT);
    }
    SocketAddrV4::new(request.ciaddr, CLIENT_PORT)
}

/// The `nameserver` lines of a resolv.conf that are IPv4 and not loopback (a local stub such
/// as systemd-resolved's 127.0.0.53 is unreachable from a guest).
pub fn nameservers(resolv_conf: &str) -> Vec<Ipv4Addr> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        .filter_map(|word| word.parse::<Ipv4Addr>().ok())
        .filter(|ip| !ip.is_loopback())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::dhcp::packet::BROADCAST_FLAG;

    const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

    fn lease() -> Lease {
        Lease::in_block("10.201.7.5", "10.201.7.0/24").unwrap()
    }

    fn request(kind: MessageType, extra: Vec<(u8, Vec<u8>)>) -> Packet {
        let mut chaddr = [0u8; 16];
        chaddr[..6].copy_from_slice(&MAC);
        let mut options = vec![(option::MESSAGE_TYPE, vec![kind as u8])];
        options.extend(extra);
        Packet {
            op: BOOTREQUEST,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid: 0x1234_5678,
            secs: 0,
            flags: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            options,
        }
    }

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    /// A DISCOVER as a client sends it, built byte by byte.
    fn wire_discover() -> Vec<u8> {
        let mut bytes = vec![1, 1, 6, 0, 0xca, 0xfe, 0xba, 0xbe, 0, 0, 0x80, 0];
        bytes.extend_from_slice(&[0; 16]); // ciaddr yiaddr siaddr giaddr
        bytes.extend_from_slice(&MAC);
        bytes.resize(236, 0);
        bytes.extend_from_slice(&[99, 130, 83, 99, 53, 1, 1, 55, 3, 1, 3, 6, 255]);
        bytes
    }

    #[test]
    fn a_discover_from_a_known_mac_gets_an_offer_of_its_address() {
        let discover = Packet::decode(&wire_discover()).unwrap();
        let reply = respond(&discover, Some(&lease()), &[ip("10.255.255.53")]).unwrap();
        let offer = &reply.packet;
        assert_eq!(offer.op, BOOTREPLY);
        assert_eq!(offer.xid, 0xcafe_babe);
        assert_eq!(offer.flags, BROADCAST_FLAG);
        assert_eq!(&offer.chaddr[..6], &MAC);
        assert_eq!(offer.message_type(), Some(MessageType::Offer));
        assert_eq!(offer.yiaddr, ip("10.201.7.5"));
        assert_eq!(
            offer.option_ip(option::SUBNET_MASK),
            Some(ip("255.255.255.0"))
        );
        assert_eq!(offer.option_ip(option::ROUTER), Some(ip("10.201.7.254")));
        assert_eq!(offer.option_ip(option::SERVER_ID), Some(ip("10.201.7.254")));
        assert_eq!(offer.option_ip(option::DNS), Some(ip("10.255.255.53")));
        assert_eq!(
            offer.option(option::LEASE_TIME),
            Some(&86_400u32.to_be_bytes()[..])
        );
        assert_eq!(reply.to, "255.255.255.255:68".parse().unwrap());
        assert_eq!(reply.from, ip("10.201.7.254"));
    }

    #[test]
    fn the_offer_survives_the_wire() {
        let discover = Packet::decode(&wire_discover()).unwrap();
        let reply = respond(&discover, Some(&lease()), &[]).unwrap();
        let bytes = reply.packet.encode();
        assert_eq!(&bytes[16..20], &[10, 201, 7, 5]);
        assert_eq!(Packet::decode(&bytes).unwrap(), reply.packet);
    }

    #[test]
    fn without_name_servers_the_gateway_is_named() {
        let reply = respond(&request(MessageType::Discover, vec![]), Some(&lease()), &[]);
        assert_eq!(
            reply.unwrap().packet.option_ip(option::DNS),
            Some(ip("10.201.7.254"))
        );
    }

    #[test]
    fn a_request_for_the_leased_address_is_acked() {
        let req = request(
            MessageType::Request,
            vec![
                (option::REQUESTED_IP, vec![10, 201, 7, 5]),
                (option::SERVER_ID, vec![10, 201, 7, 254]),
            ],
        );
        let reply = respond(&req, Some(&lease()), &[]).unwrap();
        assert_eq!(reply.packet.message_type(), Some(MessageType::Ack));
        assert_eq!(reply.packet.yiaddr, ip("10.201.7.5"));
    }

    #[test]
    fn a_request_for_another_address_is_naked_by_broadcast() {
        let req = request(
            MessageType::Request,
            vec![(option::REQUESTED_IP, vec![10, 201, 7, 6])],
        );
        let reply = respond(&req, Some(&lease()), &[]).unwrap();
        assert_eq!(reply.packet.message_type(), Some(MessageType::Nak));
        assert_eq!(reply.packet.yiaddr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(reply.to, "255.255.255.255:68".parse().unwrap());
    }

    #[test]
    fn a_renewal_is_acked_by_unicast_to_the_client() {
        let mut req = request(MessageType::Request, vec![]);
        req.ciaddr = ip("10.201.7.5");
        let reply = respond(&req, Some(&lease()), &[]).unwrap();
        assert_eq!(reply.packet.message_type(), Some(MessageType::Ack));
        assert_eq!(reply.packet.ciaddr, ip("10.201.7.5"));
        assert_eq!(reply.to, "10.201.7.5:68".parse().unwrap());
    }

    #[test]
    fn a_request_to_another_server_is_left_alone() {
        let req = request(
            MessageType::Request,
            vec![
                (option::REQUESTED_IP, vec![10, 201, 7, 5]),
                (option::SERVER_ID, vec![192, 168, 1, 1]),
            ],
        );
        assert_eq!(respond(&req, Some(&lease()), &[]), None);
    }

    #[test]
    fn unknown_macs_and_replies_are_ignored() {
        assert_eq!(
            respond(&request(MessageType::Discover, vec![]), None, &[]),
            None
        );
        let mut reply = request(MessageType::Offer, vec![]);
        reply.op = BOOTREPLY;
        assert_eq!(respond(&reply, Some(&lease()), &[]), None);
    }

    #[test]
    fn an_inform_gets_options_but_no_address() {
        let mut req = request(MessageType::Inform, vec![]);
        req.ciaddr = ip("10.201.7.5");
        let reply = respond(&req, Some(&lease()), &[]).unwrap();
        assert_eq!(reply.packet.yiaddr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(reply.packet.option(option::LEASE_TIME), None);
        assert_eq!(
            reply.packet.option_ip(option::ROUTER),
            Some(ip("10.201.7.254"))
        );
    }

    #[test]
    fn loopback_name_servers_are_left_out() {
        let text = "# generated\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nnameserver ::1\nsearch x\n";
        assert_eq!(nameservers(text), vec![ip("10.255.255.53")]);
    }
}
