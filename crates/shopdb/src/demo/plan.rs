//! Where things stand in a demo bay, and the floor plan drawn to match: ten machine cells
//! either side of a main aisle, with a quality lab, a tool crib and offices along one wall.
//! Coordinates are those of the floor map (1200 × 800).

use std::fmt::Write;

/// Machine cells per bay.
pub const CELLS: usize = 10;

const CELL_W: f64 = 180.0;
const CELL_H: f64 = 310.0;

/// Top-left corner of cell `cell` (0-based).
fn cell_origin(cell: usize) -> (f64, f64) {
    let cell = cell % CELLS;
    let x = 40.0 + (cell % 5) as f64 * 190.0;
    let y = if cell < 5 { 40.0 } else { 450.0 };
    (x, y)
}

/// Centre of machine `i` (0..4) of a cell.
pub fn machine(cell: usize, i: usize) -> (f64, f64) {
    let (x, y) = cell_origin(cell);
    (
        x + 50.0 + (i % 2) as f64 * 85.0,
        y + 70.0 + (i / 2) as f64 * 130.0,
    )
}

/// The PC at the control desk of machine `i`.
pub fn control_pc(cell: usize, i: usize) -> (f64, f64) {
    let (x, y) = machine(cell, i);
    (x, y + 52.0)
}

/// Desk `j` (0..4) of the cell's engineering bench.
pub fn bench_pc(cell: usize, j: usize) -> (f64, f64) {
    let (x, y) = cell_origin(cell);
    (x + 25.0 + j as f64 * 43.0, y + 290.0)
}

/// The network cabinet on the cell's building column.
pub fn cabinet(cell: usize) -> (f64, f64) {
    let (x, y) = cell_origin(cell);
    (x + 10.0, y + 12.0)
}

/// Spot `k` (0..5) between the machines, for tools and facility equipment.
pub fn floor_spot(cell: usize, k: usize) -> (f64, f64) {
    let (x, y) = cell_origin(cell);
    (x + 20.0 + k as f64 * 35.0, y + 140.0)
}

/// A small offset so things placed in the same spot on later rounds stay apart.
pub fn nudge((x, y): (f64, f64), round: usize) -> (f64, f64) {
    let r = round % 9;
    (
        (x + (r % 3) as f64 * 7.0).round(),
        (y + (r / 3) as f64 * 7.0).round(),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG floor plan of a bay. `prefix` names its cells (`A` → A1 … A10).
pub fn svg(plant: &str, bay: &str, prefix: &str) -> String {
    let mut s = String::with_capacity(16 * 1024);
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="800" viewBox="0 0 1200 800" font-family="Helvetica, Arial, sans-serif">
<title>{title}</title>
<rect width="1200" height="800" fill="#ffffff"/>
<rect x="20" y="20" width="1160" height="760" fill="#f7f7f5" stroke="#2f3a45" stroke-width="6"/>
<rect x="20" y="370" width="980" height="60" fill="#ecebdf"/>
<line x1="20" y1="373" x2="1000" y2="373" stroke="#e0b000" stroke-width="3" stroke-dasharray="18 10"/>
<line x1="20" y1="427" x2="1000" y2="427" stroke="#e0b000" stroke-width="3" stroke-dasharray="18 10"/>
<rect x="14" y="380" width="12" height="40" fill="#ffffff"/>
<text x="40" y="406" font-size="18" fill="#2f3a45" font-weight="bold">{title}</text>
<text x="520" y="406" font-size="14" fill="#6b6b5f">main aisle · gate on the west wall</text>
<line x1="850" y1="410" x2="950" y2="410" stroke="#2f3a45" stroke-width="2"/>
<line x1="850" y1="404" x2="850" y2="416" stroke="#2f3a45" stroke-width="2"/>
<line x1="950" y1="404" x2="950" y2="416" stroke="#2f3a45" stroke-width="2"/>
<text x="880" y="398" font-size="12" fill="#2f3a45">10 m</text>
"##,
        title = escape(&format!("{plant} · {bay}"))
    );
    for col in 0..6 {
        let x = 20.0 + col as f64 * 190.0;
        for y in [20.0, 430.0, 780.0] {
            let _ = writeln!(
                s,
                r##"<rect x="{}" y="{}" width="12" height="12" fill="#2f3a45"/>"##,
                x - 6.0,
                y - 6.0
            );
        }
    }
    for cell in 0..CELLS {
        let (x, y) = cell_origin(cell);
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="{y}" width="{CELL_W}" height="{CELL_H}" fill="none" stroke="#9aa5b1" stroke-width="1.5" stroke-dasharray="6 4"/>
<text x="{}" y="{}" font-size="13" fill="#51606e" font-weight="bold">Cell {prefix}{}</text>"##,
            x + 26.0,
            y + 16.0,
            cell + 1
        );
        for i in 0..4 {
            let (mx, my) = machine(cell, i);
            let _ = writeln!(
                s,
                r##"<rect x="{}" y="{}" width="70" height="80" rx="4" fill="#dde6f0" stroke="#6b7d90" stroke-width="2"/>
<text x="{mx}" y="{}" font-size="11" fill="#51606e" text-anchor="middle">M{}</text>
<rect x="{}" y="{}" width="30" height="12" fill="#efe6d8" stroke="#b39b77"/>"##,
                mx - 35.0,
                my - 40.0,
                my + 4.0,
                i + 1,
                mx - 15.0,
                my + 46.0,
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{}" y="{}" width="172" height="26" fill="#efe6d8" stroke="#b39b77"/>
<text x="{}" y="{}" font-size="10" fill="#8a7456">engineering bench</text>"##,
            x + 4.0,
            y + 277.0,
            x + 8.0,
            y + 274.0
        );
    }
    for (y, h, name) in [
        (20.0, 280.0, "Quality lab"),
        (300.0, 200.0, "Tool crib · USB desk"),
        (500.0, 280.0, "Offices"),
    ] {
        let _ = writeln!(
            s,
            r##"<rect x="1000" y="{y}" width="180" height="{h}" fill="#eef3ea" stroke="#2f3a45" stroke-width="3"/>
<rect x="996" y="{}" width="8" height="30" fill="#ffffff"/>
<text x="1090" y="{}" font-size="14" fill="#3f5a3a" text-anchor="middle">{}</text>"##,
            y + h / 2.0 - 15.0,
            y + 26.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spot_lies_on_the_plan() {
        for cell in 0..CELLS {
            let mut spots = vec![cabinet(cell)];
            for i in 0..4 {
                spots.extend([machine(cell, i), control_pc(cell, i), bench_pc(cell, i)]);
            }
            spots.extend((0..5).map(|k| floor_spot(cell, k)));
            for (x, y) in spots {
                let (x, y) = nudge((x, y), 8);
                assert!(
                    (20.0..1000.0).contains(&x) && (20.0..780.0).contains(&y),
                    "{x},{y}"
                );
            }
        }
        let plan = svg("Plant 1", "Bay <A>", "A");
        assert!(
            plan.starts_with("<svg") && plan.contains("Bay &lt;A&gt;") && plan.contains("Cell A10")
        );
    }
}
