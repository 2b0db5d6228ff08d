//! What asset number `n` is (`Kind`) and the made-up values its record gets: serial numbers,
//! MAC and IP addresses, logins, installed software, machine and vendor names.

use serde_json::{Value, json};

use super::plan;

/// What asset number `n` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The PC driving machine `i` of its cell.
    ControlPc(usize),
    /// Engineering bench PC `j` of its cell.
    BenchPc(usize),
    /// CNC machine `i` of its cell.
    Machine(usize),
    Network,
    Printer,
    Usb,
    /// Tool or facility item `k`.
    Plain(usize),
}

impl Kind {
    pub fn of(n: usize) -> Kind {
        match n % 20 {
            i @ 0..=3 => Kind::ControlPc(i),
            j @ 4..=7 => Kind::BenchPc(j - 4),
            i @ 8..=11 => Kind::Machine(i - 8),
            12 => Kind::Network,
            13 => Kind::Printer,
            14 => Kind::Usb,
            k => Kind::Plain(k - 15),
        }
    }

    pub(super) fn has_address(self) -> bool {
        matches!(
            self,
            Kind::ControlPc(_) | Kind::BenchPc(_) | Kind::Network | Kind::Printer
        ) || self == Kind::Machine(0)
            || self == Kind::Machine(2)
    }
}

/// The asset number of `n`.
pub fn number(n: usize) -> String {
    format!("A{n:06}")
}

/// A serial number that differs for every `n` (an odd multiplier permutes 32-bit numbers).
pub(super) fn serial(prefix: &str, n: usize) -> String {
    format!(
        "{prefix}{:08X}",
        (n as u64).wrapping_mul(2_654_435_761) & 0xFFFF_FFFF
    )
}

pub(super) fn mac(oui: &str, n: usize) -> String {
    let n = n & 0xFF_FFFF;
    format!(
        "{oui}:{:02x}:{:02x}:{:02x}",
        n >> 16,
        (n >> 8) & 0xFF,
        n & 0xFF
    )
}

/// The cycle of `n`, its bay, its cell and how often that cell was used before.
pub(super) fn place(n: usize, bays: usize) -> (usize, usize, usize) {
    let cycle = n / 20;
    let bay = cycle % bays;
    let in_bay = cycle / bays;
    (bay, in_bay % plan::CELLS, in_bay / plan::CELLS)
}

/// The address of `n`: bay `b` uses 10.(20+b).x.y, twenty addresses per cycle, two hundred
/// (ten cycles) per /24.
pub(super) fn address(n: usize, bays: usize) -> (String, String) {
    let (bay, _, _) = place(n, bays);
    let index = (n / 20 / bays) * 20 + n % 20;
    let block = index / 200;
    let second = 20 + bay + bays * (block / 256);
    let third = block % 256;
    (
        format!("10.{second}.{third}.{}", 20 + index % 200),
        format!("10.{second}.{third}"),
    )
}

pub(super) const PEOPLE: [&str; 12] = [
    "Anna Keller",
    "Ben Hartmann",
    "Chiara Rossi",
    "David Novak",
    "Elif Yilmaz",
    "Frank Meier",
    "Grace Okafor",
    "Hannes Berg",
    "Ines Duarte",
    "Jonas Weber",
    "Kasia Nowak",
    "Lars Jensen",
];

pub(super) fn login(n: usize) -> String {
    let name = PEOPLE[n % PEOPLE.len()];
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    format!(
        "WJ\\{}{}",
        first[..1].to_lowercase(),
        last.to_lowercase().replace(' ', "")
    )
}

pub(super) const OFFICE: [(&str, &str, &str); 4] = [
    (
        "Microsoft 365 Apps for enterprise",
        "16.0.17928",
        "Microsoft Corporation",
    ),
    ("Google Chrome", "128.0.6613.138", "Google LLC"),
    ("7-Zip 23.01 (x64)", "23.01", "Igor Pavlov"),
    ("Adobe Acrobat Reader", "24.003.20112", "Adobe Inc."),
];

pub(super) const SHOPFLOOR: [(&str, &str, &str); 4] = [
    ("CIMCO Edit 2024", "24.01.12", "CIMCO A/S"),
    ("Predator DNC", "10.4.2", "Predator Software Inc."),
    (
        "FANUC FOCAS2 Library",
        "A02B-0207-K737",
        "FANUC Corporation",
    ),
    (
        "Zoller TMS Tool Management",
        "1.22.3",
        "E. Zoller GmbH & Co. KG",
    ),
];

pub(super) const ENGINEERING: [(&str, &str, &str); 5] = [
    (
        "Siemens NX",
        "2312.4000",
        "Siemens Digital Industries Software",
    ),
    ("Mastercam 2024", "26.0.23164", "CNC Software, LLC"),
    (
        "SOLIDWORKS 2023 SP5",
        "31.5.0",
        "Dassault Systemes SolidWorks Corp",
    ),
    (
        "PC-DMIS 2023.2",
        "23.2.1105",
        "Hexagon Manufacturing Intelligence",
    ),
    ("Notepad++ (64-bit x64)", "8.6.9", "Notepad++ Team"),
];

pub(super) fn software(n: usize, kind: Kind) -> Value {
    let mut list: Vec<Value> = Vec::new();
    let mut add = |(name, version, publisher): (&str, &str, &str)| {
        list.push(json!({"name": name, "version": version, "publisher": publisher}));
    };
    for (i, s) in OFFICE.iter().enumerate() {
        if i < 2 || !(n + i).is_multiple_of(3) {
            add(*s);
        }
    }
    match kind {
        Kind::ControlPc(_) => {
            add(SHOPFLOOR[n % 2]);
            if n % 5 < 2 {
                add(SHOPFLOOR[2]);
            }
            if n.is_multiple_of(7) {
                add(SHOPFLOOR[3]);
            }
        }
        _ => {
            add(ENGINEERING[n % 3]);
            add(ENGINEERING[4]);
            if n.is_multiple_of(4) {
                add(ENGINEERING[3]);
            }
        }
    }
    Value::Array(list)
}

/// Machines: what they are, who built them and their controls.
pub(super) const MACHINES: [(&str, &str, &str, &str, &str); 6] = [
    ("lathe", "Okuma", "LB3000 EX II", "Okuma OSP", "OSP-P300LA"),
    (
        "mill",
        "DMG Mori",
        "DMU 65 monoBLOCK",
        "Heidenhain",
        "TNC 640",
    ),
    ("mill", "Haas", "VF-2SS", "Haas", "NGC"),
    ("lathe", "Mazak", "QUICK TURN 250MSY", "Mazatrol", "SmoothG"),
    ("grinder", "Studer", "S33", "Fanuc", "31i-B"),
    ("edm", "Fanuc", "ROBOCUT α-C400iB", "Fanuc", "31i-WB"),
];

pub(super) const PLAIN: [(&str, &str, &str, &str); 5] = [
    ("Torque wrench 20-100 Nm", "Tool", "Stahlwille", "TW"),
    (
        "Height gauge 600 mm",
        "Measuring Instrument",
        "Mitutoyo",
        "HG",
    ),
    ("Coolant mixer", "Facility", "Hydromat", "CM"),
    ("Barcode scanner", "Tool", "Zebra", "BS"),
    ("Air compressor", "Facility", "Atlas Copco", "AC"),
];

pub(super) const VENDORS: [&str; 17] = [
    "Dell",
    "HP",
    "Lenovo",
    "Okuma",
    "DMG Mori",
    "Haas",
    "Mazak",
    "Studer",
    "Fanuc",
    "Cisco",
    "Aruba",
    "Kyocera",
    "Kingston",
    "Stahlwille",
    "Mitutoyo",
    "Hydromat",
    "Zebra",
];
