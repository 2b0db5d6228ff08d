//! IPv4 and IPv6 networks in CIDR notation.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A network: address with the host bits zero, and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub network: IpAddr,
    pub prefix: u8,
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        let all = if width == 32 {
            u32::MAX as u128
        } else {
            u128::MAX
        };
        all & !((1u128 << (width - prefix)) - 1)
    }
}

fn mask_ip(ip: IpAddr, prefix: u8) -> IpAddr {
    let (value, width) = bits(ip);
    let masked = value & mask(prefix, width);
    match ip {
        IpAddr::V4(_) => IpAddr::V4((masked as u32).into()),
        IpAddr::V6(_) => IpAddr::V6(masked.into()),
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        if self.network.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        mask_ip(ip, self.prefix) == self.network
    }

    /// The text every address of an IPv4 network starts with, whole octets only
    /// (`10.20.0.0/16` → `10.20.`), to narrow a database scan; None when it narrows nothing.
    pub fn like_prefix(&self) -> Option<String> {
        let IpAddr::V4(v4) = self.network else {
            return None;
        };
        let octets = (self.prefix / 8) as usize;
        if octets == 0 {
            return None;
        }
        let parts: Vec<String> = v4.octets()[..octets.min(4)]
            .iter()
            .map(u8::to_string)
            .collect();
        Some(if octets >= 4 {
            parts.join(".")
        } else {
            format!("{}.", parts.join("."))
        })
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = s
            .trim()
            .split_once('/')
            .ok_or("must be an address and prefix length, such as 10.20.0.0/16")?;
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{addr}' is not an IP address"))?;
        let width = bits(ip).1;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= width)
            .ok_or_else(|| format!("prefix length must be 0 to {width}"))?;
        let network = mask_ip(ip, prefix);
        if network != ip {
            return Err(format!(
                "has host bits set: the network is {network}/{prefix}"
            ));
        }
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}
