//! DHCPv4 messages (RFC 2131, options RFC 2132): the fixed BOOTP header, the magic cookie and
//! the options as code/length/value triples. Pure.

use std::net::Ipv4Addr;

/// Fixed part of a BOOTP message, before the magic cookie.
const HEADER: usize = 236;
const COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Replies are padded to the BOOTP minimum; some clients drop shorter ones.
const MIN_LEN: usize = 300;

pub const BOOTREQUEST: u8 = 1;
pub const BOOTREPLY: u8 = 2;
/// Flag asking the server to broadcast its reply.
pub const BROADCAST_FLAG: u16 = 0x8000;

/// Option codes used here.
pub mod option {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const ROUTER: u8 = 3;
    pub const DNS: u8 = 6;
    pub const HOSTNAME: u8 = 12;
    pub const BROADCAST: u8 = 28;
    pub const REQUESTED_IP: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETERS: u8 = 55;
    pub const MESSAGE: u8 = 56;
    pub const RENEWAL_TIME: u8 = 58;
    pub const REBINDING_TIME: u8 = 59;
    pub const END: u8 = 255;
}

/// Option 53.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Discover = 1,
    Offer = 2,
    Request = 3,
    Decline = 4,
    Ack = 5,
    Nak = 6,
    Release = 7,
    Inform = 8,
}

impl MessageType {
    pub fn from_byte(byte: u8) -> Option<MessageType> {
        use MessageType::*;
        [Discover, Offer, Request, Decline, Ack, Nak, Release, Inform]
            .into_iter()
            .find(|t| *t as u8 == byte)
    }
}

/// A datagram that is not a DHCP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("{0} bytes is too short for a DHCP message")]
    Short(usize),
    #[error("no DHCP magic cookie")]
    NoCookie,
    #[error("option {0} runs past the end of the message")]
    Truncated(u8),
}

/// One DHCP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub op: u8,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 16],
    /// Options in message order (pad and end left out).
    pub options: Vec<(u8, Vec<u8>)>,
}

fn ip_at(bytes: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3])
}

impl Packet {
    /// Reads a message (the `sname`/`file` fields are not used as option overflow here).
    pub fn decode(bytes: &[u8]) -> Result<Packet, PacketError> {
        if bytes.len() < HEADER + COOKIE.len() {
            return Err(PacketError::Short(bytes.len()));
        }
        if bytes[HEADER..HEADER + 4] != COOKIE {
            return Err(PacketError::NoCookie);
        }
        let mut chaddr = [0u8; 16];
        chaddr.copy_from_slice(&bytes[28..44]);
        let mut options = Vec::new();
        let mut at = HEADER + 4;
        while at < bytes.len() {
            let code = bytes[at];
            match code {
                option::PAD => at += 1,
                option::END => break,
                _ => {
                    let len = *bytes.get(at + 1).ok_or(PacketError::Truncated(code))? as usize;
                    let value = bytes
                        .get(at + 2..at + 2 + len)
                        .ok_or(PacketError::Truncated(code))?;
                    options.push((code, value.to_vec()));
                    at += 2 + len;
                }
            }
        }
        Ok(Packet {
            op: bytes[0],
            htype: bytes[1],
            hlen: bytes[2],
            hops: bytes[3],
            xid: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            secs: u16::from_be_bytes([bytes[8], bytes[9]]),
            flags: u16::from_be_bytes([bytes[10], bytes[11]]),
            ciaddr: ip_at(bytes, 12),
            yiaddr: ip_at(bytes, 16),
            siaddr: ip_at(bytes, 20),
            giaddr: ip_at(bytes, 24),
            chaddr,
            options,
        })
    }

    /// The message on the wire, padded to 300 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MIN_LEN);
        out.extend_from_slice(&[self.op, self.htype, self.hlen, self.hops]);
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&self.secs.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        for ip in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            out.extend_from_slice(&ip.octets());
        }
        out.extend_from_slice(&self.chaddr);
        out.resize(HEADER, 0); // sname and file
        out.extend_from_slice(&COOKIE);
        for (code, value) in &self.options {
            // a value longer than 255 bytes is split into several instances (RFC 3396)
            for chunk in value.chunks(255) {
                out.push(*code);
                out.push(chunk.len() as u8);
                out.extend_from_slice(chunk);
            }
        }
        out.push(option::END);
        if out.len() < MIN_LEN {
            out.resize(MIN_LEN, 0);
        }
        out
    }

    /// The first value of option `code`.
    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    /// An option holding one address.
    pub fn option_ip(&self, code: u8) -> Option<Ipv4Addr> {
        let value: [u8; 4] = self.option(code)?.try_into().ok()?;
        Some(Ipv4Addr::from(value))
    }

    pub fn message_type(&self) -> Option<MessageType> {
        MessageType::from_byte(*self.option(option::MESSAGE_TYPE)?.first()?)
    }

    /// The client's hardware address, for Ethernet clients.
    pub fn mac(&self) -> Option<[u8; 6]> {
        (self.htype == 1 && self.hlen == 6).then(|| {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&self.chaddr[..6]);
            mac
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discover() -> Packet {
        let mut chaddr = [0u8; 16];
        chaddr[..6].copy_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        Packet {
            op: BOOTREQUEST,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid: 0xdead_beef,
            secs: 3,
            flags: BROADCAST_FLAG,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            options: vec![
                (option::MESSAGE_TYPE, vec![MessageType::Discover as u8]),
                (option::PARAMETERS, vec![1, 3, 6]),
            ],
        }
    }

    #[test]
    fn a_message_survives_encode_and_decode() {
        let packet = discover();
        let bytes = packet.encode();
        assert_eq!(bytes.len(), MIN_LEN);
        assert_eq!(Packet::decode(&bytes).unwrap(), packet);
    }

    #[test]
    fn header_fields_sit_at_their_rfc_offsets() {
        let bytes = discover().encode();
        assert_eq!(&bytes[4..8], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(&bytes[10..12], &[0x80, 0]);
        assert_eq!(&bytes[28..34], &[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        assert_eq!(&bytes[236..240], &COOKIE);
        assert_eq!(&bytes[240..243], &[53, 1, 1]);
    }

    #[test]
    fn pads_are_skipped_and_reading_stops_at_end() {
        let mut bytes = discover().encode();
        bytes.truncate(240);
        bytes.extend_from_slice(&[0, 0, 53, 1, 3, 255, 53, 1, 1]);
        let packet = Packet::decode(&bytes).unwrap();
        assert_eq!(packet.message_type(), Some(MessageType::Request));
        assert_eq!(packet.options.len(), 1);
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(Packet::decode(&[1, 2, 3]), Err(PacketError::Short(3)));
        let mut bytes = discover().encode();
        bytes[236] = 0;
        assert_eq!(Packet::decode(&bytes), Err(PacketError::NoCookie));
        let mut bytes = discover().encode();
        bytes.truncate(240);
        bytes.extend_from_slice(&[50, 4, 10]);
        assert_eq!(Packet::decode(&bytes), Err(PacketError::Truncated(50)));
    }
}
